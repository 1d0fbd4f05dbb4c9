"""Generate GPU cost PrometheusRules: $/hour recording rules, cost, idle and budget alerts.

`build_rule_groups(settings, threshold)` is pure: settings and a threshold in, a list of plain
rule-group dicts out, in a fixed order with no timestamps. `prometheus_rule(...)` wraps them in a
`monitoring.coreos.com/v1` PrometheusRule (validated against the pinned CRD schema),
`rules_file(...)` in a plain Prometheus rules file. `rules_from_cli` is the only function that
reads the database or writes files. The rules and their settings are described in docs/rules.md.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import yaml

from costlab import schemas
from costlab.emit import rules_promql as q
from costlab.emit.rules_settings import RulesSettings, duration_seconds
from costlab.emit.rules_thresholds import CostThreshold, cost_threshold
from costlab.errors import CostlabError

log = logging.getLogger(__name__)

COST_GROUP = "costlab-gpu-cost.rules"
BUDGET_GROUP = "costlab-gpu-budget.rules"
ALERT_GROUP = "costlab-gpu-cost.alerts"


class RuleValidationError(CostlabError):
    """A generated PrometheusRule does not match the pinned CRD schema."""


def _record(record: str, expr: str, labels: dict[str, str] | None = None) -> dict[str, Any]:
    rule: dict[str, Any] = {"record": record, "expr": expr}
    if labels:
        rule["labels"] = dict(labels)
    return rule


def _alert(
    settings: RulesSettings,
    name: str,
    expr: str,
    *,
    for_: str,
    severity: str,
    summary: str,
    description: str,
    runbook: str,
    extra: dict[str, str] | None = None,
) -> dict[str, Any]:
    annotations = {"summary": summary, "description": description, "runbook": runbook}
    if settings.runbook_url_base:
        annotations["runbook_url"] = f"{settings.runbook_url_base}#{name.lower()}"
    annotations.update(extra or {})
    return {
        "alert": name,
        "expr": expr,
        "for": for_,
        "labels": {"severity": severity},
        "annotations": annotations,
    }


def cost_recording_rules(settings: RulesSettings) -> list[dict[str, Any]]:
    """$/hour per node, cluster, nodepool, capacity type, namespace and tenant; idle GPU $/hour."""
    e = q.Exprs(settings)
    return [
        _record(q.PRICE, e.price()),
        _record(q.NODE_GPUS, e.node_gpus()),
        _record(q.NODE_UNREQUESTED, e.node_unrequested()),
        _record(q.NODE_COST, e.node_cost()),
        _record(q.NODE_GPU_PRICE, e.node_gpu_price()),
        _record(q.NODE_UNDERUTILIZED, e.node_underutilized()),
        _record(q.NODE_IDLE_GPUS, e.node_idle_gpus()),
        _record(q.NODE_IDLE_COST, e.node_idle_cost(q.NODE_UNREQUESTED), {"reason": "unrequested"}),
        _record(
            q.NODE_IDLE_COST, e.node_idle_cost(q.NODE_UNDERUTILIZED), {"reason": "underutilized"}
        ),
        _record(q.CLUSTER_COST, e.sum_by("", q.NODE_COST)),
        _record(q.CLUSTER_COST_1H, e.cluster_cost_1h()),
        _record(q.NODEPOOL_COST, e.sum_by("nodepool", q.NODE_COST)),
        _record(q.CAPACITY_COST, e.sum_by("capacity_type", q.NODE_COST)),
        _record(q.NODEPOOL_NODES, e.nodepool_nodes()),
        _record(q.NAMESPACE_COST, e.namespace_cost()),
        _record(q.TENANT_COST, e.tenant_cost()),
        _record(q.CLUSTER_IDLE_COST, e.sum_by("reason", q.NODE_IDLE_COST)),
        _record(q.NODEPOOL_IDLE_COST, e.sum_by("nodepool, reason", q.NODE_IDLE_COST)),
    ]


def burn_windows(settings: RulesSettings) -> list[str]:
    """Every window a burn-rate condition uses, shortest first."""
    windows = {w.long for w in settings.burn_windows} | {w.short for w in settings.burn_windows}
    return sorted(windows, key=lambda w: (duration_seconds(w), w))


def budget_recording_rules(settings: RulesSettings) -> list[dict[str, Any]]:
    """One constant series per tenant budget, then the burn rate over every window."""
    e = q.Exprs(settings)
    rules = [
        _record(q.TENANT_BUDGET, f"vector({q.number(budget)})", {"tenant": tenant})
        for tenant, budget in sorted(settings.budgets_usd_per_month.items())
    ]
    rules += [_record(q.burn_rate_record(w), e.burn_rate(w)) for w in burn_windows(settings)]
    return rules


def alerting_rules(settings: RulesSettings, threshold: CostThreshold) -> list[dict[str, Any]]:
    """Cost above threshold, spike vs last week, spot fallback surge, idle GPU node, budget burn."""
    e = q.Exprs(settings)
    c = settings.cluster_label
    dollars = '{{ printf "%.2f" $value }}'
    rules: list[dict[str, Any]] = []
    if threshold.usd_per_hour is not None:
        t = q.number(threshold.usd_per_hour)
        shown = f"{threshold.usd_per_hour:.2f}"
        rules.append(
            _alert(
                settings,
                "CostlabGpuCostAboveThreshold",
                e.cost_above(threshold.usd_per_hour),
                for_=f"{settings.cost_alert_minutes}m",
                severity="warning",
                summary=(
                    f"GPU spend in cluster {{{{ $labels.{c} }}}} is ${dollars}/h, above ${shown}/h"
                ),
                description=(
                    f"cluster:costlab_cost_usd_per_hour:sum has been above ${shown}/h for "
                    f"{settings.cost_alert_minutes} minutes. Threshold: {threshold.basis}."
                ),
                runbook=(
                    "1. Find what grew: nodepool:costlab_cost_usd_per_hour:sum and "
                    "namespace:costlab_cost_usd_per_hour:sum "
                    "(or `costlab allocate --by nodepool` / "
                    "`--by team`). 2. A shift to on-demand raises cost without more GPUs: compare "
                    "capacity_type:costlab_cost_usd_per_hour:sum. 3. Idle GPUs are pure waste: "
                    "cluster:costlab_idle_gpu_cost_usd_per_hour:sum by reason. 4. If the growth is "
                    "planned, raise COSTLAB_RULES_COST_THRESHOLD_USD_PER_HOUR "
                    "and rerun `costlab rules`."
                ),
                extra={"threshold_usd_per_hour": t},
            )
        )
    ratio = q.number(settings.spike_ratio)
    delta = q.number(settings.spike_min_increase_usd_per_hour)
    rules.append(
        _alert(
            settings,
            "CostlabGpuCostSpikeVsLastWeek",
            e.cost_spike(),
            for_=f"{settings.spike_minutes}m",
            severity="warning",
            summary=(
                f"GPU spend in cluster {{{{ $labels.{c} }}}} is ${dollars}/h (1h mean), "
                f"over {ratio}x the same hour last week"
            ),
            description=(
                f"The 1h mean of cluster:costlab_cost_usd_per_hour:sum is more than {ratio}x and "
                f"more than ${delta}/h above its value one week earlier (offset 1w), for "
                f"{settings.spike_minutes} minutes. Without last week's data it cannot fire."
            ),
            runbook=(
                "1. Compare nodepool:costlab_cost_usd_per_hour:sum and "
                "namespace:costlab_cost_usd_per_hour:sum "
                "now and `offset 1w` to find the new spend. "
                "2. Check for a new or scaled-up deployment, a batch job, or a spot-to-on-demand "
                "fallback (CostlabSpotFallbackSurge). 3. If it is a new normal, the alert clears "
                "itself a week later; tune COSTLAB_RULES_SPIKE_RATIO / "
                "COSTLAB_RULES_SPIKE_MIN_INCREASE_USD_PER_HOUR if it is noisy."
            ),
        )
    )
    rules.append(
        _alert(
            settings,
            "CostlabSpotFallbackSurge",
            e.spot_fallback(),
            for_="10m",
            severity="warning",
            summary=(
                f"Nodepool {{{{ $labels.nodepool }}}} in cluster {{{{ $labels.{c} }}}} added "
                f'{{{{ printf "%.0f" $value }}}} on-demand GPU '
                f"nodes within {settings.spot_fallback_window}"
            ),
            description=(
                f"The nodepool ran spot GPU nodes within the last {settings.spot_lookback} and its "
                f"on-demand GPU node count grew by at least {settings.spot_fallback_min_new_nodes} "
                f"within {settings.spot_fallback_window}: Karpenter is probably falling back from "
                "spot to on-demand (insufficient spot capacity or interruptions), at several times "
                "the price."
            ),
            runbook=(
                "1. Look for InsufficientInstanceCapacity / spot interruptions in Karpenter's logs "
                "and karpenter_interruption_received_messages_total. 2. Widen the nodepool's spot "
                "pool: more GPU instance types, families and zones in its requirements. 3. Compare "
                "capacity_type:costlab_cost_usd_per_hour:sum to see the price of the fallback; "
                "consolidation moves nodes back to spot once capacity returns."
            ),
        )
    )
    threshold_pct = q.number(settings.idle_util_threshold_pct)
    rules.append(
        _alert(
            settings,
            "CostlabIdleGpuNode",
            e.idle_node(),
            for_=f"{settings.idle_minutes}m",
            severity="warning",
            summary=(
                "GPU node {{ $labels.node_name }} ({{ $labels.instance_type }}, "
                f"{{{{ $labels.capacity_type }}}}) has been idle for {settings.idle_minutes}m, "
                f"wasting ${dollars}/h"
            ),
            description=(
                "Every allocatable GPU on the node is either not requested by any pod or requested "
                f"with a mean DCGM_FI_DEV_GPU_UTIL below {threshold_pct}% over "
                f"{settings.util_window}, for {settings.idle_minutes} minutes."
            ),
            runbook=(
                "1. If no pod requests its GPUs: check why Karpenter keeps it (do-not-disrupt "
                "annotations, PodDisruptionBudgets, consolidationPolicy/consolidateAfter of the "
                "nodepool). 2. If pods request GPUs but do not use them: find them with "
                "DCGM_FI_DEV_GPU_UTIL by pod and namespace (exported_pod and exported_namespace "
                "when dcgm-exporter is scraped with honorLabels: false, its chart's default; "
                "pod and namespace then name the exporter) and ask the owners to scale down "
                "(KEDA scale-to-zero, smaller MIG slices). 3. Idle minutes are "
                "COSTLAB_RULES_IDLE_MINUTES, the util threshold "
                "COSTLAB_RULES_IDLE_UTIL_THRESHOLD_PCT."
            ),
        )
    )
    if settings.budgets_usd_per_month:
        rules += _budget_alerts(settings, e)
    return rules


def _budget_alerts(settings: RulesSettings, e: q.Exprs) -> list[dict[str, Any]]:
    budget = (
        '{{ with printf "' + q.TENANT_BUDGET + '{tenant=%q}" $labels.tenant | query }}'
        '{{ . | first | value | printf "%.0f" }}{{ end }}'
    )
    hours = q.number(settings.hours_per_month)
    out = []
    for severity in ("critical", "warning"):
        windows = [w for w in settings.burn_windows if w.severity == severity]
        if not windows:
            continue
        conditions = ", or ".join(
            f"{w.long} and {w.short} above {q.number(w.factor)}x" for w in windows
        )
        longest_left = max(settings.hours_per_month / w.factor for w in windows) / 24
        out.append(
            _alert(
                settings,
                f"CostlabTenantBudgetBurn{severity.capitalize()}",
                e.budget_burn([(w.long, w.short, w.factor) for w in windows]),
                for_="2m",
                severity=severity,
                summary=(
                    "Tenant {{ $labels.tenant }} is spending its monthly GPU budget "
                    '{{ printf "%.1f" $value }}x faster than planned'
                ),
                description=(
                    f"Budget ${budget}/month (budgets_usd_per_month); burn rate 1 spends exactly "
                    f"the budget in {hours} hours. Fires when the burn rate is {conditions} (multi-"
                    f"window, multi-burn-rate): at these rates the budget lasts "
                    f"{longest_left:.1f} days or less."
                ),
                runbook=(
                    "1. See where the tenant's money goes: namespace:costlab_cost_usd_per_hour:sum "
                    "for its namespaces, `costlab allocate --by "
                    "team`. 2. Ask the tenant whether the "
                    "spend is planned (new training run, launch) or a leak (forgotten notebooks, "
                    "runaway replicas, idle requested GPUs). 3. If planned, raise its entry in "
                    "COSTLAB_RULES_BUDGETS_USD_PER_MONTH and rerun `costlab rules`."
                ),
            )
        )
    return out


def build_rule_groups(settings: RulesSettings, threshold: CostThreshold) -> list[dict[str, Any]]:
    """The rule groups, in evaluation order: cost records, budget records (if any), alerts."""
    interval = settings.evaluation_interval
    groups = [{"name": COST_GROUP, "interval": interval, "rules": cost_recording_rules(settings)}]
    if settings.budgets_usd_per_month:
        groups.append(
            {"name": BUDGET_GROUP, "interval": interval, "rules": budget_recording_rules(settings)}
        )
    groups.append(
        {"name": ALERT_GROUP, "interval": interval, "rules": alerting_rules(settings, threshold)}
    )
    return groups


def rules_file(settings: RulesSettings, threshold: CostThreshold) -> dict[str, Any]:
    """A plain Prometheus rules file (`rule_files:`) with the same groups."""
    return {"groups": build_rule_groups(settings, threshold)}


def prometheus_rule(settings: RulesSettings, threshold: CostThreshold) -> dict[str, Any]:
    """A `monitoring.coreos.com/v1` PrometheusRule, validated against the pinned CRD schema."""
    doc = {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PrometheusRule",
        "metadata": {
            "name": settings.name,
            "namespace": settings.namespace,
            "labels": dict(sorted(settings.labels.items())),
        },
        "spec": {"groups": build_rule_groups(settings, threshold)},
    }
    validate_prometheus_rule(doc)
    return doc


def validate_prometheus_rule(doc: dict[str, Any]) -> None:
    """Raise RuleValidationError unless `doc` matches the CRD schema and each rule is one kind."""
    try:
        schemas.validate(doc)
    except schemas.SchemaError as exc:
        raise RuleValidationError(str(exc)) from None
    for group in doc["spec"]["groups"]:
        for rule in group.get("rules", []):
            if ("record" in rule) == ("alert" in rule):
                raise RuleValidationError(
                    f"rule in group {group['name']} must set exactly one of record/alert"
                )


class _Dumper(yaml.SafeDumper):
    pass


def _str_representer(dumper: yaml.SafeDumper, data: str) -> yaml.ScalarNode:
    style = "|" if "\n" in data else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", data, style=style)


_Dumper.add_representer(str, _str_representer)


def to_yaml(doc: dict[str, Any], *, header: str = "") -> str:
    """Deterministic YAML: sorted keys, block style, multi-line PromQL as literal blocks."""
    body = yaml.dump(
        doc,
        Dumper=_Dumper,
        sort_keys=True,
        default_flow_style=False,
        width=1000,
        allow_unicode=True,
    )
    lines = [f"# {line}".rstrip() for line in header.splitlines()] if header else []
    return "\n".join([*lines, body]) if lines else body


def header(settings: RulesSettings, threshold: CostThreshold) -> str:
    """The comment at the top of a generated file: what generated it and from what."""
    t = f"${threshold.usd_per_hour:.2f}/h" if threshold.usd_per_hour is not None else "undefined"
    return (
        "Generated by `costlab rules`; regenerate instead of editing.\n"
        f"Price source: {settings.price_source}. Cost threshold: {t} ({threshold.basis}).\n"
        f"Tenant budgets: {len(settings.budgets_usd_per_month)}. See docs/rules.md."
    )


def plain_rules_path(out: Path) -> Path:
    """Where the plain rules file goes beside `out`: rules.yaml -> rules.prometheus.yaml."""
    suffix = out.suffix or ".yaml"
    return out.with_name(f"{out.stem}.prometheus{suffix}")


def render(settings: RulesSettings, threshold: CostThreshold) -> tuple[str, str]:
    """(PrometheusRule YAML, plain rules file YAML) for the settings and threshold."""
    top = header(settings, threshold)
    return (
        to_yaml(prometheus_rule(settings, threshold), header=top),
        to_yaml(rules_file(settings, threshold), header=top),
    )


def rules_from_cli(
    db_path: Path, *, out: Path, console: Any, settings: RulesSettings | None = None
) -> str:
    """`costlab rules --out FILE`: the PrometheusRule to FILE, a plain rules file beside it."""
    from costlab import store
    from costlab.config import settings_for

    settings = settings or settings_for(RulesSettings, "rules")
    conn = None
    if settings.cost_threshold_usd_per_hour is None and Path(db_path).exists():
        conn = store.connect(db_path, read_only=True)
    try:
        threshold = cost_threshold(conn, settings)
    finally:
        if conn is not None:
            conn.close()
    operator_yaml, plain_yaml = render(settings, threshold)
    out = Path(out)
    plain = plain_rules_path(out)
    out.write_text(operator_yaml)
    plain.write_text(plain_yaml)
    if threshold.usd_per_hour is None:
        console.print(
            "[yellow]warning:[/yellow] no cost threshold (no allocation data and no "
            "COSTLAB_RULES_COST_THRESHOLD_USD_PER_HOUR): CostlabGpuCostAboveThreshold left out"
        )
    if not settings.budgets_usd_per_month:
        console.print(
            "note: no tenant budgets (COSTLAB_RULES_BUDGETS_USD_PER_MONTH): budget alerts left out"
        )
    threshold_text = (
        f"${threshold.usd_per_hour:.2f}/h" if threshold.usd_per_hour is not None else "none"
    )
    return (
        f"wrote {out} (PrometheusRule) and {plain} (plain rules file); "
        f"cost threshold {threshold_text}"
    )
