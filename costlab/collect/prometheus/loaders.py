"""Loaders of the simple groups: pod/namespace labels, price estimates, counters.

Each loader takes one chunk's sample frame (with a `cluster` column) and the chunk [a, b), and
writes rows and gaps through the `Ctx`; see docs/collect-prometheus.md.
"""

from __future__ import annotations

from datetime import datetime

import polars as pl

from costlab import store
from costlab.collect import series
from costlab.collect.prometheus import k8s as prom_k8s
from costlab.collect.prometheus.context import Ctx, GroupReport, existing, frame_of

PRICE_METRIC = "karpenter_cloudprovider_instance_type_offering_price_estimate"
COUNTER_METRICS = ("karpenter_nodes_created_total", "karpenter_nodes_terminated_total")


def newer_labels(
    ctx: Ctx, rows: pl.DataFrame, seen: pl.DataFrame, ids: list[str], sql_name: str
) -> pl.DataFrame:
    """Label rows (with last_seen_ts) seen at or after the stored value's last observation."""
    keys = ids + ["key"]
    rows = rows.join(seen, on=keys, how="inner")
    stored = existing(ctx, sql_name, rows.select(keys), None)
    return (
        rows.join(stored.rename({"last_seen_ts": "_stored"}), on=keys, how="left")
        .filter(pl.col("_stored").is_null() | (pl.col("last_seen_ts") >= pl.col("_stored")))
        .drop("_stored")
    )


def load_labels(ctx: Ctx, frame: pl.DataFrame, a: datetime, b: datetime, rep: GroupReport) -> None:
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
        newer = newer_labels(ctx, rows, seen, ids, f"collect/prometheus_{kind}_labels_seen")
        ctx.load(f"{kind}_labels", newer.drop("last_seen_ts"), rep)
        store.upsert(
            ctx.conn,
            f"prometheus_{kind}_label_seen",
            newer.select(*ids, "key", "last_seen_ts").to_arrow(),
        )


def load_prices(ctx: Ctx, frame: pl.DataFrame, a: datetime, b: datetime, rep: GroupReport) -> None:
    if frame.height == 0 or not {"instance_type", "capacity_type"} <= set(frame.columns):
        return
    keys = ["instance_type", "region", "zone", "capacity_type"]
    shaped = frame.select(
        "instance_type",
        (
            pl.coalesce("region", prom_k8s.region_from_zone(pl.col("zone")))
            if "region" in frame.columns
            else prom_k8s.region_from_zone(pl.col("zone"))
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
    before = frame_of(
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


def counter_resets(ctx: Ctx, frame: pl.DataFrame, metrics: tuple[str, ...]) -> None:
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


def load_counters(
    ctx: Ctx, frame: pl.DataFrame, a: datetime, b: datetime, rep: GroupReport
) -> None:
    if frame.height == 0:
        return
    counter_resets(ctx, frame, COUNTER_METRICS)
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
