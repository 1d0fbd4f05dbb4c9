"""Collect DCGM, kube-state-metrics and Karpenter series from a Prometheus-compatible API.

`collect(conn, window=None, settings=...)` reads, per *group* of metrics, the range to fetch:
with no window it starts at the group's per-metric watermark minus `lag` (or `initial_lookback`
before now on a first run) and ends at now; with a window it is a stateless backfill that does not
move watermarks. The range is cut into chunks that respect Prometheus' 11,000 points per series
and `max_samples_per_query`; each chunk is fetched, turned into rows by `costlab.collect.series`
(the same transforms the demo uses) and written with its watermark in one transaction, so a
killed run loses at most the chunk in flight and a rerun continues where it stopped.

Every query is `last_over_time(<selector>[<step - 1ms>])` evaluated at `step`: a point exists only
when a real scrape fell in the step before it, so missing scrapes stay missing (never carried
forward by Prometheus' 5-minute lookback) and become `collection_gaps` rows. Presence series
(nodes, pod GPU requests) become intervals at step resolution, merged across chunks and runs by
`prom_intervals.merge_presence`. See docs/collect-prometheus.md.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import polars as pl
from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from costlab import store
from costlab.collect import prom_k8s, series, sink
from costlab.collect.prom_client import PromClient, QueryTooLarge, SigV4, matrix_to_frame
from costlab.collect.prom_intervals import merge_presence
from costlab.errors import UsageError
from costlab.timeutil import Window, parse_ts

log = logging.getLogger(__name__)

SOURCE = "prometheus"
PRICE_METRIC = "karpenter_cloudprovider_instance_type_offering_price_estimate"
DISRUPTED_METRIC = "karpenter_nodeclaims_disrupted_total"
_DURATION = re.compile(r"(\d+)(ms|s|m|h|d|w)")
_UNIT = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}

# karpenter_nodeclaims_disrupted_total{reason} to nodes.end_reason.
END_REASONS = {
    "underutilized": "consolidated",
    "empty": "consolidated",
    "consolidation": "consolidated",
    "drifted": "drifted",
    "expired": "expired",
    "interruption": "interrupted",
    "spot_interrupted": "interrupted",
    "instance_terminated": "interrupted",
    "instance_stopped": "interrupted",
    "instance_stopping": "interrupted",
    "scheduled_change": "interrupted",
    "rebalance_recommendation": "interrupted",
}


def parse_duration(text: str | float | int | timedelta) -> timedelta:
    """Prometheus durations ('15s', '1m30s', '500ms', '2h') or seconds to a timedelta."""
    if isinstance(text, timedelta):
        return text
    if isinstance(text, int | float):
        return timedelta(seconds=float(text))
    s = str(text).strip()
    if re.fullmatch(r"\d+(\.\d+)?", s):
        return timedelta(seconds=float(s))
    parts = _DURATION.findall(s)
    if not parts or "".join(n + u for n, u in parts) != s:
        raise UsageError(f"not a duration: {text!r} (e.g. 15s, 1m, 1h30m)")
    return timedelta(seconds=sum(int(n) * _UNIT[u] for n, u in parts))


def format_duration(d: timedelta) -> str:
    return f"{round(d.total_seconds() * 1000)}ms"


class PrometheusSettings(BaseSettings):
    """Where and how to query. Environment: COSTLAB_PROM_<FIELD>, e.g. COSTLAB_PROM_BEARER_TOKEN,
    COSTLAB_PROM_HEADERS='{"X-Scope-OrgID": "team-a"}' (Mimir), COSTLAB_PROM_VERIFY_TLS=false."""

    model_config = SettingsConfigDict(env_prefix="COSTLAB_PROM_", extra="ignore")

    url: str = Field(
        "", description="Base URL of the Prometheus HTTP API (the part before /api/v1)."
    )
    bearer_token: SecretStr | None = Field(
        None, description="Sent as `Authorization: Bearer`; env only."
    )
    headers: dict[str, str] = Field(
        default_factory=dict, description="Extra HTTP headers, e.g. X-Scope-OrgID."
    )
    verify_tls: bool = Field(True, description="Verify the server's TLS certificate.")
    ca_bundle: str | None = Field(None, description="CA bundle file for TLS verification.")
    timeout_s: float = Field(60.0, gt=0, description="Per-request timeout, seconds.")
    max_retries: int = Field(5, ge=0, description="Retries of a request on 5xx/429/timeouts.")
    backoff_s: float = Field(0.5, ge=0, description="First retry delay; doubles per retry.")
    max_backoff_s: float = Field(30.0, ge=0, description="Longest retry delay.")
    step: timedelta = Field(
        timedelta(seconds=15), description="Query resolution (use the scrape interval)."
    )
    price_step: timedelta = Field(
        timedelta(minutes=5), description="Resolution of the price-estimate series."
    )
    lag: timedelta = Field(
        timedelta(minutes=2), description="Re-fetch this much before the watermark."
    )
    initial_lookback: timedelta = Field(
        timedelta(days=1), description="First run without a watermark: fetch this far back."
    )
    max_points_per_series: int = Field(
        11_000, ge=1, le=11_000, description="Prometheus' hard limit is 11,000."
    )
    max_samples_per_query: int = Field(
        1_000_000, ge=1, description="Series x points per query (bounds memory)."
    )
    gap_factor: float = Field(
        2.5, ge=1, description="A silence longer than this many steps is a gap."
    )
    gap_lookback: timedelta = Field(
        timedelta(days=1), description="How far back a silence can start and still be found."
    )
    reason_lookback: timedelta = Field(
        timedelta(minutes=10),
        description="Disruption events this long before a node ends explain it.",
    )
    cluster: str | None = Field(
        None, description="Cluster name to record; default the `cluster` label."
    )
    default_cluster: str = Field(
        "default", description="Cluster name when series carry no `cluster` label."
    )
    extra_matchers: str = Field(
        "", description='Label matchers added to every selector, e.g. cluster="prod".'
    )
    sigv4: bool = Field(
        False, description="Sign requests with AWS SigV4 (Amazon Managed Prometheus)."
    )
    sigv4_region: str | None = Field(
        None, description="SigV4 region; default AWS_REGION / profile, else from the AMP URL."
    )
    sigv4_service: str = Field("aps", description="SigV4 service name (AMP: aps).")

    @field_validator(
        "step",
        "price_step",
        "lag",
        "initial_lookback",
        "gap_lookback",
        "reason_lookback",
        mode="before",
    )
    @classmethod
    def _duration(cls, v: Any) -> timedelta:
        return parse_duration(v)


@dataclass(frozen=True)
class Query:
    metric: str
    matchers: str = ""
    lookback: bool = False  # also fetch `reason_lookback` before the chunk (counters, events)
    alias: str = ""  # frame metric and watermark name when the query is not the plain series
    wrap: str = ""  # PromQL around the last_over_time term, which replaces "{expr}"
    only_with: Query | None = None  # keep series that also have a sample of this query ...
    on: str = "cluster, namespace, pod"  # ... at the same step, matched on these labels
    count_with: Query | None = None  # series count that sizes chunks (when wrap aggregates)

    @property
    def name(self) -> str:
        return self.alias or self.metric

    def selector(self, extra: str) -> str:
        inner = ",".join(m for m in (self.matchers, extra) if m)
        return f"{self.metric}{{{inner}}}" if inner else self.metric

    def promql(self, rng: str, extra: str) -> str:
        expr = f"last_over_time({self.selector(extra)}[{rng}])"
        if self.only_with is not None:
            expr = f"{expr} and on ({self.on}) {self.only_with.promql(rng, extra)}"
        return self.wrap.replace("{expr}", expr) if self.wrap else expr

    def count_selector(self, extra: str) -> str:
        return (self.count_with or self).selector(extra)


@dataclass
class GroupReport:
    name: str
    window: Window | None = None
    chunks: int = 0
    samples: int = 0
    rows: int = 0
    quarantined: int = 0


@dataclass
class CollectReport:
    run_id: str
    mode: str  # incremental | backfill
    groups: list[GroupReport] = field(default_factory=list)
    gaps: list[tuple[str, datetime, datetime, str]] = field(default_factory=list)
    requests: int = 0
    retries: int = 0
    counters: dict[str, float] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    @property
    def rows(self) -> int:
        return sum(g.rows for g in self.groups)

    @property
    def quarantined(self) -> int:
        return sum(g.quarantined for g in self.groups)


@dataclass
class _Ctx:
    conn: duckdb.DuckDBPyConnection
    settings: PrometheusSettings
    run: sink.CollectionRun
    report: CollectReport
    step: timedelta
    incremental: bool
    clusters: set[str] = field(default_factory=set)

    @property
    def tolerance(self) -> timedelta:
        return self.step * self.settings.gap_factor

    def gap(self, name: str, start: datetime, end: datetime, kind: str) -> None:
        if end <= start:
            return
        sink.record_gap(self.conn, SOURCE, name, Window(start, end), kind, self.run.run_id)
        self.report.gaps.append((name, start, end, kind))

    def warn(self, message: str) -> None:
        if message not in self.report.warnings:
            log.warning("%s", message)
            self.report.warnings.append(message)

    def load(self, table: str, frame: pl.DataFrame, group: GroupReport) -> None:
        rep = sink.load(self.conn, table, frame, run_id=self.run.run_id)
        self.run.reports.append(rep)
        group.rows += rep.loaded
        group.quarantined += rep.quarantined


@dataclass(frozen=True)
class Group:
    name: str
    queries: tuple[Query, ...]
    loader: Callable[[_Ctx, pl.DataFrame, datetime, datetime, GroupReport], None]
    price_step: bool = False


# --------------------------------------------------------------------------------------- loaders


def _load_gpu_samples(
    ctx: _Ctx, frame: pl.DataFrame, a: datetime, b: datetime, rep: GroupReport
) -> None:
    if frame.height:
        ctx.load("gpu_samples", series.gpu_samples_from_dcgm(frame, step=ctx.step), rep)
    params = {
        "start": a,
        "end": b,
        "since": a - ctx.settings.gap_lookback,
        "tolerance_s": ctx.tolerance.total_seconds(),
        "step_s": ctx.step.total_seconds(),
    }
    for name, start, end in ctx.conn.execute(
        store.load_sql("collect/prometheus_sample_gaps"), params
    ).fetchall():
        ctx.gap(name, start, end, "missing-scrapes")


def _horizon(ctx: _Ctx, metric: str, b: datetime) -> datetime:
    wm = sink.get_watermark(ctx.conn, SOURCE, _wm_series(ctx.settings, metric))
    return max(b, wm) if wm else b


def _existing(ctx: _Ctx, sql_name: str, keys: pl.DataFrame, since: datetime | None) -> pl.DataFrame:
    ctx.conn.register("_prom_keys", keys.to_arrow())
    try:
        params = {"since": since} if since is not None else None
        return _frame(ctx.conn.sql(store.load_sql(sql_name), params=params))
    finally:
        ctx.conn.unregister("_prom_keys")


def _frame(rel: duckdb.DuckDBPyRelation) -> pl.DataFrame:
    out = pl.from_arrow(rel.to_arrow_table())
    assert isinstance(out, pl.DataFrame)
    return out.with_columns(pl.col(pl.Datetime).dt.cast_time_unit("us"))


def _drop(ctx: _Ctx, drop: pl.DataFrame, sql_names: tuple[str, ...]) -> None:
    if drop.height == 0:
        return
    ctx.conn.register("_prom_drop", drop.to_arrow())
    try:
        for name in sql_names:
            ctx.conn.execute(store.load_sql(name))
    finally:
        ctx.conn.unregister("_prom_drop")


def _open_keys(ctx: _Ctx, table: str, keys: list[str]) -> pl.DataFrame:
    """Keys of open intervals in the clusters this run collects: a chunk may have to close them."""
    if not ctx.clusters:
        return pl.DataFrame(schema={k: pl.String for k in keys})
    rel = ctx.conn.table(table).filter("end_ts IS NULL").select(*keys)
    found = rel.pl()
    return found.filter(pl.col("cluster").is_in(sorted(ctx.clusters)))


def _disruptions(frame: pl.DataFrame) -> pl.DataFrame:
    """Increases of karpenter_nodeclaims_disrupted_total: (cluster, nodepool, ts, end_reason)."""
    part = frame.filter(pl.col("metric") == DISRUPTED_METRIC) if frame.height else frame
    if part.height == 0 or "reason" not in part.columns:
        return pl.DataFrame(
            schema={
                "cluster": pl.String,
                "nodepool": pl.String,
                "ts": pl.Datetime("us", "UTC"),
                "end_reason": pl.String,
            }
        )
    if "nodepool" not in part.columns:
        part = part.with_columns(pl.lit(None, dtype=pl.String).alias("nodepool"))
    ident = ["cluster", "nodepool", "reason"]
    return (
        part.sort(ident + ["ts"])
        .with_columns(pl.col("value").shift(1).over(ident).alias("_prev"))
        .filter(pl.col("_prev").is_not_null() & (pl.col("value") != pl.col("_prev")))
        .select(
            "cluster",
            "nodepool",
            "ts",
            pl.col("reason").replace_strict(END_REASONS, default="unknown").alias("end_reason"),
        )
    )


def _load_nodes(ctx: _Ctx, frame: pl.DataFrame, a: datetime, b: datetime, rep: GroupReport) -> None:
    s = ctx.settings
    alloc, mismatches = prom_k8s.node_presence(
        frame.filter(pl.col("ts") >= a) if frame.height else frame
    )
    for r in mismatches.iter_rows(named=True):
        ctx.warn(
            f"node {r['cluster']}/{r['node']}: {r['attribute']} is {r['karpenter']!r} in "
            f"Karpenter metrics but {r['labels']!r} in kube_node_labels (Karpenter's kept)"
        )
    attrs = [
        "nodepool",
        "instance_type",
        "capacity_type",
        "region",
        "zone",
        "gpu_count",
        "gpu_model",
    ]
    entity = ["cluster", "node"]
    new = series.nodes_from_karpenter(alloc, ctx.step, None) if alloc.height else pl.DataFrame()
    if new.height:
        new = new.with_columns((pl.col("end_ts") - ctx.step).alias("last_seen_ts")).drop(
            "end_ts", "end_reason"
        )
    else:
        new = pl.DataFrame(
            schema={
                "cluster": pl.String,
                "node": pl.String,
                "start_ts": pl.Datetime("us", "UTC"),
                "last_seen_ts": pl.Datetime("us", "UTC"),
                **{c: (pl.Int32 if c == "gpu_count" else pl.String) for c in attrs},
            }
        )
    keys = pl.concat([new.select(entity), _open_keys(ctx, "nodes", entity)]).unique()
    if keys.height == 0:
        _counter_resets(ctx, frame, (DISRUPTED_METRIC,))
        return
    existing = _existing(ctx, "collect/prometheus_nodes_existing", keys, a - s.gap_lookback)
    merged = merge_presence(
        existing,
        new,
        entity=entity,
        pk=entity,
        attrs=attrs,
        step=ctx.step,
        tolerance=ctx.tolerance,
        horizon=_horizon(ctx, series.NODE_METRIC, b),
        touch_since=a - ctx.tolerance,
    )
    rows = merged.rows.with_row_index("_i")
    events = _disruptions(frame)
    if events.height and rows.height:
        matched = (
            rows.filter(pl.col("end_ts").is_not_null())
            .select("_i", "cluster", "nodepool", "end_ts")
            .join(events, on=["cluster", "nodepool"], how="inner")
            .filter(
                (pl.col("ts") >= pl.col("end_ts") - s.reason_lookback)
                & (pl.col("ts") <= pl.col("end_ts") + ctx.tolerance)
            )
            .sort("ts")
            .group_by("_i")
            .agg(pl.col("end_reason").last().alias("_event_reason"))
        )
        rows = rows.join(matched, on="_i", how="left")
    else:
        rows = rows.with_columns(pl.lit(None, dtype=pl.String).alias("_event_reason"))
    rows = rows.with_columns(
        pl.when(pl.col("end_ts").is_null())
        .then(None)
        .otherwise(pl.coalesce("_event_reason", "_prior_reason", pl.lit("unknown")))
        .alias("end_reason")
    )
    _drop(
        ctx,
        merged.drop,
        ("collect/prometheus_nodes_delete", "collect/prometheus_node_presence_delete"),
    )
    ctx.load(
        "nodes", rows.select("cluster", "node", "start_ts", "end_ts", "end_reason", *attrs), rep
    )
    store.upsert(
        ctx.conn,
        "prometheus_node_presence",
        rows.select("cluster", "node", "start_ts", "last_seen_ts").to_arrow(),
    )
    for r in merged.gaps.iter_rows(named=True):
        name = f'{series.NODE_METRIC}{{cluster="{r["cluster"]}",node_name="{r["node"]}"}}'
        ctx.gap(name, r["gap_start_ts"], r["gap_end_ts"], "missing-scrapes")
    _counter_resets(ctx, frame, (DISRUPTED_METRIC,))


def _load_pods(ctx: _Ctx, frame: pl.DataFrame, a: datetime, b: datetime, rep: GroupReport) -> None:
    pk = ["cluster", "namespace", "pod", "container", "gpu_resource"]
    entity = pk + ["node", "quantity"]
    frame = frame.filter(pl.col("ts") >= a) if frame.height else frame
    req = frame
    if frame.height:
        req = prom_k8s.fill_pod_nodes(frame)
        info = prom_k8s.pod_info_rows(frame)
        if info.height:
            _register_exec(ctx, "_prom_pod_info", info, "collect/prometheus_pod_info_upsert")
        _record_request_mismatches(ctx, prom_k8s.request_mismatches(frame, req), a)
    if req.height:
        req = req.filter(
            pl.col("node").is_not_null() & (pl.col("node") != "")
        )  # pending pods hold no GPU
    new = series.pod_requests_from_ksm(req, ctx.step, None) if req.height else pl.DataFrame()
    if new.height:
        new = new.with_columns((pl.col("end_ts") - ctx.step).alias("last_seen_ts")).drop("end_ts")
    else:
        new = pl.DataFrame(
            schema={
                **{c: pl.String for c in pk + ["node"]},
                "quantity": pl.Float64,
                "start_ts": pl.Datetime("us", "UTC"),
                "last_seen_ts": pl.Datetime("us", "UTC"),
            }
        )
    keys = pl.concat([new.select(pk), _open_keys(ctx, "pod_gpu_requests", pk)]).unique()
    if keys.height == 0:
        return
    existing = _existing(
        ctx, "collect/prometheus_pods_existing", keys, a - ctx.settings.gap_lookback
    )
    merged = merge_presence(
        existing,
        new,
        entity=entity,
        pk=pk,
        attrs=[],
        step=ctx.step,
        tolerance=ctx.tolerance,
        horizon=_horizon(ctx, series.POD_REQUEST_METRIC, b),
        touch_since=a - ctx.tolerance,
    )
    _drop(
        ctx,
        merged.drop,
        ("collect/prometheus_pods_delete", "collect/prometheus_pod_presence_delete"),
    )
    rows = merged.rows
    ctx.load("pod_gpu_requests", rows.select(*pk, "start_ts", "end_ts", "node", "quantity"), rep)
    store.upsert(
        ctx.conn, "prometheus_pod_presence", rows.select(*pk, "start_ts", "last_seen_ts").to_arrow()
    )
    for r in merged.gaps.iter_rows(named=True):
        name = (
            f'{series.POD_REQUEST_METRIC}{{cluster="{r["cluster"]}",namespace="{r["namespace"]}",'
            f'pod="{r["pod"]}",container="{r["container"]}",node="{r["node"]}"}}'
        )
        ctx.gap(name, r["gap_start_ts"], r["gap_end_ts"], "missing-scrapes")


def _register_exec(ctx: _Ctx, name: str, frame: pl.DataFrame, sql_name: str) -> None:
    ctx.conn.register(name, frame.to_arrow())
    try:
        ctx.conn.execute(store.load_sql(sql_name))
    finally:
        ctx.conn.unregister(name)


def _record_request_mismatches(ctx: _Ctx, found: pl.DataFrame, a: datetime) -> None:
    """Runs of timestamps where Karpenter's pod GPU request total for a node differs from
    kube-state-metrics' become `request-mismatch` rows in collection_gaps, merged across chunks
    like presence intervals (so the rows do not depend on chunk boundaries)."""
    if found.height == 0:
        return
    named = found.select(
        pl.format(
            '{}{{cluster="{}",node_name="{}",resource_type="nvidia_com_gpu"}}',
            pl.lit(prom_k8s.POD_REQUESTS_TOTAL_METRIC),
            "cluster",
            "node",
        ).alias("series"),
        "ts",
    )
    new = (
        series.intervals_from_presence(named, ["series"], ctx.step, None, ctx.settings.gap_factor)
        .with_columns((pl.col("end_ts") - ctx.step).alias("last_seen_ts"))
        .drop("end_ts")
    )
    stored = _existing(
        ctx,
        "collect/prometheus_request_mismatch_existing",
        new.select("series").unique(),
        a - ctx.settings.gap_lookback,
    ).with_columns((pl.col("end_ts") - ctx.step).alias("last_seen_ts"))
    merged = merge_presence(
        stored,
        new,
        entity=["series"],
        pk=["series"],
        attrs=[],
        step=ctx.step,
        tolerance=ctx.tolerance,
        horizon=datetime.max.replace(tzinfo=UTC),
        touch_since=a - ctx.tolerance,
    )
    _drop(ctx, merged.drop, ("collect/prometheus_request_mismatch_delete",))
    for r in merged.rows.iter_rows(named=True):
        ctx.gap(r["series"], r["start_ts"], r["last_seen_ts"] + ctx.step, "request-mismatch")


def _newer_labels(
    ctx: _Ctx, rows: pl.DataFrame, seen: pl.DataFrame, ids: list[str], sql_name: str
) -> pl.DataFrame:
    """Label rows (with last_seen_ts) seen at or after the stored value's last observation."""
    keys = ids + ["key"]
    rows = rows.join(seen, on=keys, how="inner")
    stored = _existing(ctx, sql_name, rows.select(keys), None)
    return (
        rows.join(stored.rename({"last_seen_ts": "_stored"}), on=keys, how="left")
        .filter(pl.col("_stored").is_null() | (pl.col("last_seen_ts") >= pl.col("_stored")))
        .drop("_stored")
    )


def _load_labels(
    ctx: _Ctx, frame: pl.DataFrame, a: datetime, b: datetime, rep: GroupReport
) -> None:
    """Label values are replaced only by values observed at or after the stored value was last
    seen (prometheus_*_label_seen), so loading an older window never overwrites a newer value."""
    if frame.height == 0:
        return
    pods, namespaces = series.labels_from_ksm(frame)
    targets = (
        (pods, series.POD_LABELS_METRIC, ["cluster", "namespace", "pod"], "pod"),
        (namespaces, series.NAMESPACE_LABELS_METRIC, ["cluster", "namespace"], "namespace"),
    )
    for rows, metric, ids, kind in targets:
        if rows.height == 0:
            continue
        seen = prom_k8s.label_last_seen(frame, metric, ids)
        newer = _newer_labels(ctx, rows, seen, ids, f"collect/prometheus_{kind}_labels_seen")
        ctx.load(f"{kind}_labels", newer.drop("last_seen_ts"), rep)
        store.upsert(
            ctx.conn,
            f"prometheus_{kind}_label_seen",
            newer.select(*ids, "key", "last_seen_ts").to_arrow(),
        )


_region = prom_k8s.region_from_zone


def _load_prices(
    ctx: _Ctx, frame: pl.DataFrame, a: datetime, b: datetime, rep: GroupReport
) -> None:
    if frame.height == 0 or not {"instance_type", "capacity_type"} <= set(frame.columns):
        return
    keys = ["instance_type", "region", "zone", "capacity_type"]
    shaped = frame.select(
        "instance_type",
        (
            pl.coalesce("region", _region(pl.col("zone")))
            if "region" in frame.columns
            else _region(pl.col("zone"))
        ).alias("region")
        if "zone" in frame.columns
        else pl.col("region"),
        (pl.col("zone").fill_null("") if "zone" in frame.columns else pl.lit("")).alias("zone"),
        "capacity_type",
        pl.col("ts").alias("effective_from"),
        pl.when(pl.col("value").is_finite())
        .then((pl.col("value") * 1_000_000).round(0))
        .otherwise(None)
        .cast(pl.Int64, strict=False)
        .alias("usd_micros_per_hour"),
    )
    before = _frame(
        ctx.conn.sql(store.load_sql("collect/prometheus_last_prices"), params={"before": a})
    )
    prev = before.rename({"usd_micros_per_hour": "_stored"})
    changed = (
        shaped.sort(keys + ["effective_from"])
        .join(prev, on=keys, how="left", nulls_equal=True)
        .with_columns(pl.col("usd_micros_per_hour").shift(1).over(keys).alias("_prev"))
        .with_columns(pl.coalesce("_prev", "_stored").alias("_prev"))
        .filter(
            pl.col("_prev").is_null()
            | (pl.col("_prev") != pl.col("usd_micros_per_hour"))
            | pl.col("usd_micros_per_hour").is_null()
        )
        .with_columns(pl.lit("karpenter-estimate").alias("source"))
        .select(*keys, "source", "effective_from", "usd_micros_per_hour")
    )
    ctx.load("prices", changed, rep)


def _counter_resets(ctx: _Ctx, frame: pl.DataFrame, metrics: tuple[str, ...]) -> None:
    if frame.height == 0:
        return
    labels = sorted(c for c in frame.columns if c not in ("metric", "ts", "value"))
    part = frame.filter(pl.col("metric").is_in(list(metrics)))
    if part.height == 0:
        return
    present = [c for c in labels if part[c].null_count() < part.height]
    ident = (
        pl.concat_str(
            [
                pl.col("metric"),
                pl.lit("{"),
                pl.concat_str(
                    [pl.format('{}="{}"', pl.lit(c), pl.col(c)) for c in present],
                    separator=",",
                    ignore_nulls=True,
                ),
                pl.lit("}"),
            ]
        )
        if present
        else pl.col("metric")
    )
    resets = (
        part.with_columns(ident.alias("_series"))
        .sort("_series", "ts")
        .with_columns(
            pl.col("value").shift(1).over("_series").alias("_prev"),
            pl.col("ts").shift(1).over("_series").alias("_prev_ts"),
        )
        .filter(pl.col("_prev").is_not_null() & (pl.col("value") < pl.col("_prev")))
    )
    for r in resets.iter_rows(named=True):
        ctx.gap(r["_series"], r["_prev_ts"], r["ts"], "counter-reset")


def _load_counters(
    ctx: _Ctx, frame: pl.DataFrame, a: datetime, b: datetime, rep: GroupReport
) -> None:
    if frame.height == 0:
        return
    metrics = tuple(q.metric for q in COUNTERS.queries)
    _counter_resets(ctx, frame, metrics)
    labels = [c for c in frame.columns if c not in ("metric", "ts", "value")]
    inc = (
        frame.sort("ts")
        .with_columns(pl.col("value").diff().over(["metric", *labels]).alias("_d"))
        .filter(pl.col("ts") >= a)
        .with_columns(
            pl.when(pl.col("_d") < 0).then(pl.col("value")).otherwise(pl.col("_d")).alias("_d")
        )
        .group_by("metric")
        .agg(pl.col("_d").sum())
    )
    for metric, value in inc.iter_rows():
        ctx.report.counters[metric] = ctx.report.counters.get(metric, 0.0) + float(value or 0)


DCGM = Group("gpu_samples", tuple(Query(m) for m in series.DCGM_FIELDS), _load_gpu_samples)
NODE_LABELS = Query(prom_k8s.NODE_LABELS_METRIC)
NODES = Group(
    "nodes",
    (
        Query(series.NODE_METRIC, 'resource_type="nvidia_com_gpu"'),
        Query(DISRUPTED_METRIC, lookback=True),
        NODE_LABELS,
        # GPUs per node as DCGM sees them: gives non-Karpenter nodes their presence and GPU count.
        Query(
            "DCGM_FI_DEV_FB_USED",
            alias=prom_k8s.DCGM_GPUS_BY_NODE,
            wrap="count by (cluster, Hostname, modelName) "
            "(count by (cluster, Hostname, modelName, UUID) ({expr}))",
            count_with=NODE_LABELS,
        ),
    ),
    _load_nodes,
)
GPU_REQUESTS = Query(series.POD_REQUEST_METRIC, 'resource=~"nvidia_com_(gpu|gpu_shared|mig_.+)"')
PODS = Group(
    "pod_gpu_requests",
    (
        GPU_REQUESTS,
        # Only pods that request GPUs: pod -> node when the request series has no `node`.
        Query(prom_k8s.POD_INFO_METRIC, only_with=GPU_REQUESTS, count_with=GPU_REQUESTS),
        Query(prom_k8s.POD_REQUESTS_TOTAL_METRIC, f'resource_type="{prom_k8s.GPU_RESOURCE_TYPE}"'),
    ),
    _load_pods,
)
LABELS = Group(
    "labels", (Query(series.POD_LABELS_METRIC), Query(series.NAMESPACE_LABELS_METRIC)), _load_labels
)
PRICES = Group("prices", (Query(PRICE_METRIC),), _load_prices, price_step=True)
COUNTERS = Group(
    "counters",
    (
        Query("karpenter_nodes_created_total", lookback=True),
        Query("karpenter_nodes_terminated_total", lookback=True),
    ),
    _load_counters,
)
GROUPS: tuple[Group, ...] = (NODES, PODS, DCGM, LABELS, PRICES, COUNTERS)


# ------------------------------------------------------------------------------------- the loop


def _wm_series(settings: PrometheusSettings, metric: str) -> str:
    return f"{metric}@{settings.cluster}" if settings.cluster else metric


def _floor(ts: datetime, step: timedelta) -> datetime:
    s = step.total_seconds()
    return datetime.fromtimestamp((ts.timestamp() // s) * s, UTC)


def _ceil(ts: datetime, step: timedelta) -> datetime:
    f = _floor(ts, step)
    return f if f == ts else f + step


def make_client(settings: PrometheusSettings) -> PromClient:
    if not settings.url:
        raise UsageError("no Prometheus URL: pass --url or set COSTLAB_PROM_URL")
    verify: bool | str = (
        settings.ca_bundle if (settings.verify_tls and settings.ca_bundle) else settings.verify_tls
    )
    auth = None
    if settings.sigv4:
        auth = SigV4(_sigv4_region(settings), settings.sigv4_service)
    return PromClient(
        settings.url,
        auth=auth,
        headers=settings.headers,
        bearer_token=settings.bearer_token.get_secret_value() if settings.bearer_token else None,
        verify_tls=verify,
        timeout_s=settings.timeout_s,
        max_retries=settings.max_retries,
        backoff_s=settings.backoff_s,
        max_backoff_s=settings.max_backoff_s,
    )


def _sigv4_region(settings: PrometheusSettings) -> str:
    """settings.sigv4_region, else botocore's configured region, else the AMP endpoint's."""
    if settings.sigv4_region:
        return settings.sigv4_region
    import botocore.session

    region = botocore.session.get_session().get_config_variable("region")
    found = re.search(r"aps-workspaces\.([a-z0-9-]+)\.amazonaws\.com", settings.url)
    if region or found:
        return str(region or found.group(1))  # type: ignore[union-attr]
    raise UsageError("SigV4 needs a region: set COSTLAB_PROM_SIGV4_REGION or AWS_REGION")


def plan_chunks(
    window: Window, step: timedelta, n_series: int, max_points: int, max_samples: int
) -> list[Window]:
    """Cut a step-aligned window into chunks of at most `max_points` evaluation points per series
    and `max_samples` series x points in all."""
    points = max(1, min(max_points, max_samples // max(n_series, 1)))
    span = step * points
    chunks, a = [], window.start
    while a < window.end:
        b = min(window.end, a + span)
        chunks.append(Window(a, b))
        a = b
    return chunks


def _fetch(ctx: _Ctx, client: PromClient, q: Query, a: datetime, b: datetime) -> pl.DataFrame:
    """Evaluation points a, a+step, ..., < b; split in half when Prometheus says it is too large."""
    step = ctx.step
    rng = format_duration(step - timedelta(milliseconds=1))
    promql = q.promql(rng, ctx.settings.extra_matchers)
    try:
        result = client.query_range(promql, a, b - step, step.total_seconds())
    except QueryTooLarge:
        if b - a <= step:
            raise
        mid = a + step * ((b - a) // step // 2)
        return pl.concat(
            [_fetch(ctx, client, q, a, mid), _fetch(ctx, client, q, mid, b)], how="diagonal_relaxed"
        )
    frame = matrix_to_frame(q.name, result)
    client.stats.samples += frame.height
    return frame


def _with_cluster(frame: pl.DataFrame, settings: PrometheusSettings) -> pl.DataFrame:
    if settings.cluster:
        return frame.with_columns(pl.lit(settings.cluster).alias("cluster"))
    if "cluster" in frame.columns:
        return frame.with_columns(pl.col("cluster").fill_null(settings.default_cluster))
    return frame.with_columns(pl.lit(settings.default_cluster).alias("cluster"))


def _group_window(
    conn: duckdb.DuckDBPyConnection,
    group: Group,
    settings: PrometheusSettings,
    step: timedelta,
    window: Window | None,
    now: datetime,
) -> Window | None:
    if window is not None:
        start, end = _floor(window.start, step), _ceil(window.end, step)
    else:
        marks = [
            sink.get_watermark(conn, SOURCE, _wm_series(settings, q.name)) for q in group.queries
        ]
        start = min(marks) - settings.lag if all(marks) else now - settings.initial_lookback  # type: ignore[type-var]
        start, end = _floor(start, step), _floor(now, step)
    return Window(start, end) if end > start else None


def collect(
    conn: duckdb.DuckDBPyConnection,
    *,
    window: Window | None = None,
    settings: PrometheusSettings,
    now: datetime | None = None,
    console: Any = None,
    groups: tuple[Group, ...] = GROUPS,
) -> CollectReport:
    """Fetch, transform and load every group; see the module docstring."""
    now = now or datetime.now(UTC)
    client = make_client(settings)
    try:
        with sink.collection_run(conn, SOURCE, window) as run:
            report = CollectReport(run.run_id, "backfill" if window else "incremental")
            plans: list[tuple[Group, timedelta, GroupReport, list[Window]]] = []
            for group in groups:
                step = settings.price_step if group.price_step else settings.step
                rep = GroupReport(
                    group.name, _group_window(conn, group, settings, step, window, now)
                )
                report.groups.append(rep)
                if rep.window is None:
                    continue
                n = sum(
                    client.series_count(
                        q.count_selector(settings.extra_matchers), rep.window.start, rep.window.end
                    )
                    for q in group.queries
                )
                chunks = plan_chunks(
                    rep.window,
                    step,
                    n,
                    settings.max_points_per_series,
                    settings.max_samples_per_query,
                )
                plans.append((group, step, rep, chunks))
            total = sum(len(c) for *_, c in plans)
            progress = _progress(console, total)
            with progress:
                task = progress.add_task("prometheus", total=total)
                for group, step, rep, chunks in plans:
                    ctx = _Ctx(conn, settings, run, report, step, window is None)
                    _run_group(ctx, client, group, chunks, rep, progress, task)
            report.requests, report.retries = client.stats.requests, client.stats.retries
            return report
    finally:
        client.close()


def _fetch_chunk(
    ctx: _Ctx, client: PromClient, group: Group, chunk: Window
) -> list[tuple[str, pl.DataFrame]]:
    """Every query of a group for one chunk; runs one chunk ahead of loading, in a thread."""
    out = []
    for q in group.queries:
        start = (
            _floor(chunk.start - ctx.settings.reason_lookback, ctx.step)
            if q.lookback
            else chunk.start
        )
        out.append((q.name, _fetch(ctx, client, q, start, chunk.end)))
    return out


def _load_chunk(
    ctx: _Ctx,
    group: Group,
    chunk: Window,
    fetched: list[tuple[str, pl.DataFrame]],
    rep: GroupReport,
    last_seen: dict[str, datetime],
    *,
    final: bool,
) -> None:
    """Rows, gaps and watermarks of one chunk in one transaction."""
    a, b = chunk.start, chunk.end
    frames = []
    for metric, frame in fetched:
        if frame.height:
            frames.append(frame)
            latest = frame["ts"].max()
            if metric not in last_seen or latest > last_seen[metric]:  # type: ignore[operator]
                last_seen[metric] = latest  # type: ignore[assignment]
    frame = (
        _with_cluster(pl.concat(frames, how="diagonal_relaxed"), ctx.settings)
        if frames
        else pl.DataFrame()
    )
    if frame.height:
        ctx.clusters.update(frame["cluster"].unique().to_list())
    rep.samples += frame.height
    rep.chunks += 1
    with store.transaction(ctx.conn):
        group.loader(ctx, frame, a, b, rep)
        if final:  # a metric that stopped reporting before the end of the run: stale source
            for metric, ts in last_seen.items():
                if b - ctx.step - ts > ctx.tolerance:
                    ctx.gap(metric, ts + ctx.step, b, "stale")
        if ctx.incremental:
            for q in group.queries:
                sink.set_watermark(ctx.conn, SOURCE, _wm_series(ctx.settings, q.name), b)


def _run_group(
    ctx: _Ctx,
    client: PromClient,
    group: Group,
    chunks: list[Window],
    rep: GroupReport,
    progress: Any,
    task: Any,
) -> None:
    """Load chunk i while chunk i+1 is fetched: at most two chunks in memory."""
    last_seen: dict[str, datetime] = {}
    with ThreadPoolExecutor(max_workers=1) as pool:
        pending = pool.submit(_fetch_chunk, ctx, client, group, chunks[0])
        for i, chunk in enumerate(chunks):
            fetched = pending.result()
            if i + 1 < len(chunks):
                pending = pool.submit(_fetch_chunk, ctx, client, group, chunks[i + 1])
            progress.update(task, description=f"{group.name} {chunk.start:%Y-%m-%d %H:%M}")
            _load_chunk(ctx, group, chunk, fetched, rep, last_seen, final=i == len(chunks) - 1)
            progress.advance(task)


class _NoProgress:
    def __enter__(self) -> _NoProgress:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def add_task(self, *a: Any, **k: Any) -> int:
        return 0

    def update(self, *a: Any, **k: Any) -> None:
        return None

    def advance(self, *a: Any, **k: Any) -> None:
        return None


def _progress(console: Any, total: int) -> Any:
    if console is None or total < 2:
        return _NoProgress()
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
    )

    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=True,
    )


# ------------------------------------------------------------------------------------------ CLI


def render(report: CollectReport) -> Any:
    from rich.console import Group as RichGroup
    from rich.table import Table

    table = Table(title=f"Prometheus collection {report.run_id} ({report.mode})")
    for col in ("group", "from", "to", "chunks", "samples", "rows", "quarantined"):
        table.add_column(
            col, justify="right" if col in ("chunks", "samples", "rows", "quarantined") else "left"
        )
    for g in report.groups:
        table.add_row(
            g.name,
            g.window.start.isoformat() if g.window else "up to date",
            g.window.end.isoformat() if g.window else "",
            str(g.chunks),
            str(g.samples),
            str(g.rows),
            str(g.quarantined),
        )
    parts: list[Any] = [
        table,
        f"{report.requests} requests, {report.retries} retried, "
        f"{len(report.gaps)} gap(s), {report.quarantined} row(s) quarantined",
    ]
    for message in report.warnings[:20]:
        parts.append(f"[yellow]warning[/yellow]: {message}")
    if report.gaps:
        gaps = Table(title="Gaps (not interpolated)")
        for col in ("kind", "series", "from", "to"):
            gaps.add_column(col)
        for name, start, end, kind in report.gaps[:20]:
            gaps.add_row(kind, name, start.isoformat(), end.isoformat())
        if len(report.gaps) > 20:
            gaps.caption = f"... and {len(report.gaps) - 20} more in collection_gaps"
        parts.append(gaps)
    return RichGroup(*parts)


def collect_from_cli(
    db_path: Path | str,
    *,
    url: str,
    start: str | None,
    end: str | None,
    step: str,
    cluster: str | None,
    console: Any = None,
) -> Any:
    overrides: dict[str, Any] = {"url": url, "step": parse_duration(step)}
    if cluster:
        overrides["cluster"] = cluster
    settings = PrometheusSettings(**overrides)
    window = None
    if start or end:
        if not start:
            raise UsageError(
                "--end needs --start (without both, the collector continues from its watermark)"
            )
        window = Window(parse_ts(start), parse_ts(end) if end else datetime.now(UTC))
    conn = store.connect(db_path)
    try:
        return render(collect(conn, window=window, settings=settings, console=console))
    finally:
        conn.close()
