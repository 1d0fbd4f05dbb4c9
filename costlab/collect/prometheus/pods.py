"""Loader of the `pod_gpu_requests` group: pod GPU request intervals, pod info, and the
cross-check of Karpenter's per-node request totals (`request-mismatch` gaps)."""

from __future__ import annotations

from datetime import UTC, datetime

import polars as pl

from costlab import store
from costlab.collect import series
from costlab.collect.prometheus import k8s as prom_k8s
from costlab.collect.prometheus.context import (
    Ctx,
    GroupReport,
    drop_rows,
    existing,
    horizon,
    open_keys,
    register_exec,
)
from costlab.collect.prometheus.intervals import merge_presence


def load_pods(ctx: Ctx, frame: pl.DataFrame, a: datetime, b: datetime, rep: GroupReport) -> None:
    pk = ["cluster", "namespace", "pod", "container", "gpu_resource"]
    entity = pk + ["node", "quantity"]
    resources = tuple(ctx.settings.accelerator_resources)
    frame = frame.filter(pl.col("ts") >= a) if frame.height else frame
    req = frame
    if frame.height:
        req = prom_k8s.fill_pod_nodes(frame)
        info = prom_k8s.pod_info_rows(frame)
        if info.height:
            register_exec(ctx, "_prom_pod_info", info, "collect/prometheus_pod_info_upsert")
        record_request_mismatches(ctx, prom_k8s.request_mismatches(frame, req, resources), a)
    if req.height:
        req = req.filter(
            pl.col("node").is_not_null() & (pl.col("node") != "")
        )  # pending pods hold no GPU
    new = (
        series.pod_requests_from_ksm(req, ctx.step, None, resources=resources)
        if req.height
        else pl.DataFrame()
    )
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
    keys = pl.concat([new.select(pk), open_keys(ctx, "pod_gpu_requests", pk)]).unique()
    if keys.height == 0:
        return
    stored = existing(ctx, "collect/prometheus_pods_existing", keys, a - ctx.settings.gap_lookback)
    merged = merge_presence(
        stored,
        new,
        entity=entity,
        pk=pk,
        attrs=[],
        step=ctx.step,
        tolerance=ctx.tolerance,
        horizon=horizon(ctx, series.POD_REQUEST_METRIC, b),
        touch_since=a - ctx.tolerance,
    )
    drop_rows(
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


def record_request_mismatches(ctx: Ctx, found: pl.DataFrame, a: datetime) -> None:
    """Runs of timestamps where Karpenter's pod accelerator request total for a node differs from
    kube-state-metrics' become `request-mismatch` rows in collection_gaps, merged across chunks
    like presence intervals (so the rows do not depend on chunk boundaries)."""
    if found.height == 0:
        return
    named = found.select(
        pl.format(
            '{}{{cluster="{}",node_name="{}",resource_type="{}"}}',
            pl.lit(prom_k8s.POD_REQUESTS_TOTAL_METRIC),
            "cluster",
            "node",
            "resource",
        ).alias("series"),
        "ts",
    )
    new = (
        series.intervals_from_presence(named, ["series"], ctx.step, None, ctx.settings.gap_factor)
        .with_columns((pl.col("end_ts") - ctx.step).alias("last_seen_ts"))
        .drop("end_ts")
    )
    stored = existing(
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
    drop_rows(ctx, merged.drop, ("collect/prometheus_request_mismatch_delete",))
    for r in merged.rows.iter_rows(named=True):
        ctx.gap(r["series"], r["start_ts"], r["last_seen_ts"] + ctx.step, "request-mismatch")
