"""Loader of the `nodes` group: node lifetimes from Karpenter, kube_node_labels,
kube-state-metrics (`kube_node_status_allocatable`, `kube_node_info`) and DCGM.

Presence samples (`prom_k8s.node_presence`) become intervals merged with stored ones
(`prom_intervals.merge_presence`); an ended node's reason comes from an increase of
`karpenter_nodeclaims_disrupted_total` around its end. A node whose instance type, capacity type
or region no source gives (known only from DCGM, or a managed-node-group node without a
kube-state-metrics label allowlist) gets UNKNOWN there, and a `node-without-karpenter-labels`
notice: it is unpriced, never dropped.
"""

from __future__ import annotations

from datetime import datetime

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
)
from costlab.collect.prometheus.intervals import merge_presence
from costlab.collect.prometheus.loaders import counter_resets

DISRUPTED_METRIC = "karpenter_nodeclaims_disrupted_total"
# A GPU node without Karpenter series and without these attributes in kube_node_labels (e.g. seen
# only by dcgm-exporter) is still a `nodes` row, with UNKNOWN in their place: it cannot be
# priced, so the allocation reports its hours in unpriced_node_hours. Each such interval is also
# a `node-without-karpenter-labels` row in collection_gaps, from its start to its end.
UNKNOWN = "unknown"
UNKNOWN_ATTRS = ("instance_type", "capacity_type", "region")
NOTICE_KIND = "node-without-karpenter-labels"

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


def disruptions(frame: pl.DataFrame) -> pl.DataFrame:
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


def load_nodes(ctx: Ctx, frame: pl.DataFrame, a: datetime, b: datetime, rep: GroupReport) -> None:
    s = ctx.settings
    resources = tuple(s.accelerator_resources)
    alloc, mismatches = prom_k8s.node_presence(
        frame.filter(pl.col("ts") >= a) if frame.height else frame, resources, s.dcgm_node_label
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
    new = (
        series.nodes_from_karpenter(alloc, ctx.step, None, resources=resources)
        if alloc.height
        else pl.DataFrame()
    )
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
    keys = pl.concat([new.select(entity), open_keys(ctx, "nodes", entity)]).unique()
    if keys.height == 0:
        counter_resets(ctx, frame, (DISRUPTED_METRIC,))
        return
    stored = existing(ctx, "collect/prometheus_nodes_existing", keys, a - s.gap_lookback)
    # A stored UNKNOWN is no observation: a later Karpenter or label value replaces it.
    stored = stored.with_columns(
        pl.when(pl.col(c) != UNKNOWN).then(pl.col(c)).alias(c) for c in UNKNOWN_ATTRS
    )
    merged = merge_presence(
        stored,
        new,
        entity=entity,
        pk=entity,
        attrs=attrs,
        step=ctx.step,
        tolerance=ctx.tolerance,
        horizon=horizon(ctx, series.NODE_METRIC, b),
        touch_since=a - ctx.tolerance,
    )
    rows = merged.rows.with_row_index("_i")
    events = disruptions(frame)
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
    unknown = pl.any_horizontal(pl.col(c).is_null() for c in UNKNOWN_ATTRS)
    rows = rows.with_columns(unknown.alias("_unknown")).with_columns(
        pl.col(c).fill_null(UNKNOWN) for c in UNKNOWN_ATTRS
    )
    drop_rows(
        ctx,
        merged.drop,
        (
            "collect/prometheus_nodes_delete",
            "collect/prometheus_node_presence_delete",
            "collect/prometheus_node_notice_delete",
        ),
    )
    # Known now (e.g. Karpenter reported a node first seen by DCGM): no notice left behind.
    known = rows.filter(~pl.col("_unknown")).select("cluster", "node", "start_ts")
    drop_rows(ctx, known, ("collect/prometheus_node_notice_delete",))
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
    for r in rows.filter(pl.col("_unknown")).iter_rows(named=True):
        ctx.gap(
            notice_series(r["cluster"], r["node"]),
            r["start_ts"],
            r["end_ts"] or r["last_seen_ts"] + ctx.step,
            NOTICE_KIND,
        )
    counter_resets(ctx, frame, (DISRUPTED_METRIC,))


def notice_series(cluster: str, node: str) -> str:
    """The series whose absence a `node-without-karpenter-labels` row reports."""
    return f'{prom_k8s.NODE_LABELS_METRIC}{{cluster="{cluster}",node="{node}"}}'
