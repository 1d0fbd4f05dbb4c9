"""Running the checks of `checks.CHECKS` against a Prometheus-compatible API.

Every question is an instant query (or the labels endpoint) over [at - lookback, at], so the cost
is a few small requests per series whatever the fleet size: series counts and per-label counts
are aggregated by Prometheus, and raw samples are read for one series only (scrape interval).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Literal

from costlab.collect.prometheus.client import PromClient
from costlab.collect.prometheus.scrape_intervals import measure_scrape_interval
from costlab.collect.prometheus.settings import format_duration
from costlab.doctor import checks as c

Status = Literal["found", "missing", "shape"]
Severity = Literal["ok", "warning", "error", "info"]

# A node name dcgm-exporter reports when NODE_NAME is unset: its own pod's name.
_EXPORTER_POD = re.compile(r"(^|-)dcgm-exporter-[a-z0-9]{5}$")


@dataclass
class Result:
    check: c.Check
    status: Status
    series_count: int = 0
    sample: dict[str, str] = field(default_factory=dict)
    interval_s: float | None = None
    last_seen: datetime | None = None
    notes: list[str] = field(default_factory=list)
    fixes: list[str] = field(default_factory=list)  # beyond check.fix, for shape problems
    severity: Severity = "ok"
    respelled: bool = False  # found only in another spelling, which costlab does not read


@dataclass
class Report:
    url: str
    cluster: str | None
    at: datetime
    lookback: timedelta
    results: list[Result]
    problems: list[str]  # why allocation cannot work; empty when it can

    @property
    def exit_code(self) -> int:
        return 1 if self.problems else 0


class Probe:
    """The queries of one doctor run: `extra` matchers on every selector, window [at-lookback, at]."""

    def __init__(
        self, client: PromClient, at: datetime, lookback: timedelta, extra: str, cluster_label: str
    ) -> None:
        self.client, self.at, self.lookback, self.extra = client, at, lookback, extra
        self.cluster_label = cluster_label
        self.rng = format_duration(lookback)

    def selector(self, metric: str, matchers: str = "") -> str:
        inner = ",".join(m for m in (matchers, self.extra) if m)
        # Metric names with a colon (vllm:...) are fine as selectors; quoting keeps any name valid.
        return f'{{__name__="{metric}"{"," + inner if inner else ""}}}'

    def vector(self, promql: str) -> list[tuple[dict[str, str], float]]:
        data = self.client.query(promql, self.at)
        return [(r["metric"], float(r["value"][1])) for r in data.get("result", [])]

    def count(self, sel: str) -> int:
        return self.count_expr(f"last_over_time({sel}[{self.rng}])")

    def values(self, sel: str, label: str) -> set[str]:
        rows = self.vector(f"count by ({label}) (last_over_time({sel}[{self.rng}]))")
        return {m[label] for m, _ in rows if m.get(label)}

    def labels(self, sel: str) -> set[str]:
        return set(self.client.label_names(sel, self.at - self.lookback, self.at))

    def sample(self, sel: str) -> dict[str, str]:
        rows = self.vector(f"topk(1, last_over_time({sel}[{self.rng}]))")
        return {k: v for k, v in rows[0][0].items() if k != "__name__"} if rows else {}

    def pods_requesting(self, sel: str, pod: str, namespace: str, requests: str) -> int:
        """Series of `sel` whose (namespace, pod) labels name a pod with a GPU request."""
        req = f"last_over_time({requests}[{self.rng}])"
        if pod != "pod":
            req = f'label_replace({req}, "{pod}", "$1", "pod", "(.*)")'
            req = f'label_replace({req}, "{namespace}", "$1", "namespace", "(.*)")'
        on = f"{self.cluster_label}, {namespace}, {pod}"
        return self.count_expr(f"last_over_time({sel}[{self.rng}]) and on ({on}) {req}")

    def count_expr(self, expr: str) -> int:
        found = self.vector(f"count({expr})")
        return int(found[0][1]) if found else 0

    def last_seen(self, sel: str) -> datetime | None:
        """The newest raw sample's time: timestamp() at each subquery step is the time of the
        sample it sees, so the maximum is the last sample's (steps shorter than the 5m staleness)."""
        rows = self.vector(f"max(max_over_time(timestamp({sel})[{self.rng}:30s]))")
        return datetime.fromtimestamp(rows[0][1], UTC) if rows else None


def _scrape_interval(probe: Probe, metric: str, labels: dict[str, str], last: datetime) -> float:
    """Scrape interval of one series in the 10 minutes before its last sample, measured the way
    the collector measures it to choose its step (typical gap, in seconds)."""
    matchers = ",".join(f'{k}="{_escape(v)}"' for k, v in sorted(labels.items()))
    sel = f'{{__name__="{metric}"{"," + matchers if matchers else ""}}}'
    found = measure_scrape_interval(probe.client, sel, last + timedelta(milliseconds=1))
    return round(found.typical.total_seconds(), 3) if found else 0.0


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def run_check(probe: Probe, check: c.Check, node_names: set[str] | None) -> Result:
    sel = probe.selector(check.metric, check.matchers)
    n = probe.count(sel)
    if n == 0:
        for alt in check.respelled:
            alt_sel = probe.selector(check.metric, alt.matchers)
            m = probe.count(alt_sel)
            if m:
                res = Result(check, "shape", m, probe.sample(alt_sel), respelled=True)
                res.notes.append(f"found only as {check.metric}{{{alt.matchers}}}: {alt.note}")
                res.fixes.append(alt.fix)
                return res
        return Result(check, "missing")
    res = Result(check, "found", series_count=n, sample=probe.sample(sel))
    res.last_seen = probe.last_seen(sel)
    if res.last_seen is not None:
        res.interval_s = _scrape_interval(probe, check.metric, res.sample, res.last_seen) or None
        silent = probe.at - res.last_seen
        if silent > max(timedelta(minutes=5), timedelta(seconds=3 * (res.interval_s or 0))):
            res.notes.append(f"stale: the last sample is {_ago(silent)} old")
    names = probe.labels(sel)
    _labels(res, names)
    if check.workload:
        _workload(probe, res, sel)
    if check.node_names:
        _hostnames(probe, res, sel, names, node_names)
    return res


def _labels(res: Result, names: set[str]) -> None:
    missing = [want for want in res.check.labels if not any(a in names for a in want.split("|"))]
    if not missing:
        return
    res.status = "shape"
    if res.check.allowlist:
        res.notes.append(
            "no series carries "
            + ", ".join(missing)
            + ": the key is not in --metric-labels-allowlist (or no object has it)"
        )
    else:
        res.notes.append("no series carries " + ", ".join(missing))


def _workload(probe: Probe, res: Result, sel: str) -> None:
    """Which pod-mapping shape the series use (costlab reads both, exported_* first), and whether
    the pods they name request GPUs (else `pod` is the exporter's own target label)."""
    exported = probe.count(_with(sel, 'exported_pod!=""'))
    pod_label, ns_label = (
        ("exported_pod", "exported_namespace") if exported else ("pod", "namespace")
    )
    mapped = exported or probe.count(_with(sel, 'pod!=""'))
    if exported:
        res.notes.append(
            f"pod mapping: exported_pod/exported_namespace/exported_container on {exported} of "
            f"{res.series_count} series (scraped with honorLabels: false, the dcgm-exporter "
            "chart's default; pod/namespace name the exporter itself); costlab reads exported_*"
        )
    elif mapped:
        res.notes.append(
            f"pod mapping: pod/namespace/container on {mapped} of {res.series_count} series"
        )
    requests = probe.selector(c.GPU_REQUESTS[0], c.GPU_REQUESTS[1])
    matched = probe.pods_requesting(sel, pod_label, ns_label, requests) if mapped else 0
    if not mapped or (not matched and probe.count(requests)):
        res.status = "shape"
        res.notes.append(
            "no series has a workload label (exported_pod or pod)"
            if not mapped
            else f"the {pod_label} values name no pod that requests a GPU (e.g. "
            f'{pod_label}="{sorted(probe.values(sel, pod_label))[0]}"): they are the exporter\'s '
            "own target labels"
        )
        res.notes.append(
            "dcgm-exporter runs without Kubernetes mapping, so GPU use cannot be tied to pods"
        )
        res.fixes.append(c.MAPPING_FIX)
        return
    if res.series_count > matched:
        res.notes.append(
            f"{res.series_count - matched} series name no GPU-requesting pod (GPUs no pod holds)"
        )


def _hostnames(
    probe: Probe, res: Result, sel: str, names: set[str], node_names: set[str] | None
) -> None:
    label = next((a for a in res.check.node_names.split("|") if a in names), None)
    if label is None:
        return
    res.notes.append(f"node label: {label}")
    hosts = probe.values(sel, label)
    if not node_names:
        res.notes.append(
            f"{label} not compared with node names: no Karpenter or kube-state-metrics node series"
        )
        return
    unknown = sorted(hosts - node_names)
    if not unknown:
        return
    res.status = "shape"
    shown = ", ".join(unknown[:5]) + (f" (+{len(unknown) - 5} more)" if len(unknown) > 5 else "")
    pods = [h for h in unknown if _EXPORTER_POD.search(h)]
    why = (
        ": these are dcgm-exporter pod names (NODE_NAME is not set)"
        if pods
        else ": no Karpenter or kube-state-metrics series names such a node"
    )
    res.notes.append(f"{len(unknown)} of {len(hosts)} {label} values match no node: {shown}{why}")
    res.fixes.append(c.HOSTNAME_FIX)


def _with(sel: str, matchers: str) -> str:
    return sel[:-1] + "," + matchers + "}"


def _ago(d: timedelta) -> str:
    s = int(d.total_seconds())
    return f"{s // 3600}h{s % 3600 // 60:02d}m" if s >= 3600 else f"{s // 60}m{s % 60:02d}s"


def node_names(probe: Probe) -> set[str]:
    out: set[str] = set()
    for metric, label in c.NODE_NAME_SOURCES:
        out |= probe.values(probe.selector(metric), label)
    return out


def verdict(results: list[Result]) -> list[str]:
    """Why allocation cannot work: no way to discover GPU nodes, or no pod GPU requests."""
    found = {r.check.key for r in results if r.status != "missing" and not r.respelled}
    problems = []
    nodes = [r for r in results if r.check.role == "nodes"]
    if not any(r.check.key in found for r in nodes):
        problems.append(
            "no GPU nodes discoverable: none of "
            + ", ".join(r.check.series for r in nodes)
            + " has series (a node seen only by dcgm-exporter cannot be priced)"
        )
    requests = [r for r in results if r.check.role == "requests"]
    if not any(r.check.key in found for r in requests):
        problems.append(
            "no pod GPU requests: "
            + ", ".join(r.check.series for r in requests)
            + " has no series, so every GPU-hour would be idle"
        )
    return problems


def severity(res: Result) -> Severity:
    if res.check.role == "info":
        return "ok" if res.status == "found" else "info"
    if res.status == "found":
        return "ok"
    return "error" if res.check.role in ("nodes", "requests") else "warning"


def run(
    client: PromClient,
    *,
    url: str,
    at: datetime,
    lookback: timedelta,
    extra: str,
    cluster: str | None,
    cluster_label: str,
) -> Report:
    probe = Probe(client, at, lookback, extra, cluster_label)
    nodes = node_names(probe)
    results = [run_check(probe, check, nodes) for check in c.CHECKS]
    problems = verdict(results)
    if cluster and all(r.status == "missing" for r in results):
        problems.insert(
            0,
            f'no series at all has {cluster_label}="{cluster}": check --cluster and the '
            "cluster_label setting",
        )
    for res in results:
        res.severity = severity(res)
        # A nodes check that is missing is fatal only when no other nodes check is found.
        if res.severity == "error" and not problems:
            res.severity = "warning"
    return Report(url, cluster, at, lookback, results, problems)
