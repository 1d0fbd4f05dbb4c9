"""Loader of the `gpu_samples` group: DCGM samples and their `missing-scrapes` gaps.

A chunk newer than every stored sample of its cluster (a backfill into an empty range, or any
chunk after the first of an incremental run) takes the fast path: its rows are appended (no row
can share a key with a stored one) and its gaps are found from the chunk itself plus, per
series, the last sample before it, remembered from the previous chunk (or read once per run).
Any other chunk is upserted and its gaps are read back with `prometheus_sample_gaps.sql`. Both
paths write the same rows and gaps.
"""

from __future__ import annotations

from datetime import datetime

import polars as pl

from costlab import store
from costlab.collect import series
from costlab.collect.prometheus.context import Ctx, GroupReport, frame_of

KEY = ["cluster", "node", "gpu_uuid", "mig_instance_id"]
_SCHEMA = {
    "cluster": pl.String,
    "node": pl.String,
    "gpu_uuid": pl.String,
    "mig_instance_id": pl.Int32,
    "ts": pl.Datetime("us", "UTC"),
}
_NEWEST = "gpu_samples.newest_ts"  # Ctx.state: newest stored sample time of the shard's scope
_LAST = "gpu_samples.last_ts"  # Ctx.state: per series, its newest stored sample


def load_gpu_samples(
    ctx: Ctx, frame: pl.DataFrame, a: datetime, b: datetime, rep: GroupReport
) -> None:
    rows = (
        series.gpu_samples_from_dcgm(frame, step=ctx.step, node_label=ctx.settings.dcgm_node_label)
        if frame.height
        else pl.DataFrame()
    )
    if _beyond_stored(ctx, a):
        good = ctx.load("gpu_samples", rows, rep, append=True) if rows.height else rows
        gaps = _gaps_from_chunk(ctx, good, a)
    else:
        if rows.height:
            _drop_other_grid(ctx, rows)
        good = ctx.load("gpu_samples", rows, rep) if rows.height else rows
        ctx.state.pop(_LAST, None)  # stored samples inside the chunk: read back from now on
        gaps = _gaps_from_table(ctx, a, b)
    if good.height:
        newest = good["ts"].max()
        stored = ctx.state[_NEWEST]
        ctx.state[_NEWEST] = newest if stored is None else max(stored, newest)
    for name, start, end in gaps.iter_rows():
        ctx.gap(name, start, end, "missing-scrapes")


def _drop_other_grid(ctx: Ctx, rows: pl.DataFrame) -> None:
    """Stored samples of these series on another step's grid, where these rows now stand."""
    reloaded = rows.group_by(KEY).agg(
        pl.col("ts").min().alias("first_ts"), pl.col("ts").max().alias("last_ts")
    )
    sample_ms = round(ctx.step.total_seconds() * 1000)
    ctx.conn.register("reloaded_series", reloaded.to_arrow())
    try:
        ctx.conn.execute(
            store.load_sql("collect/prometheus_samples_drop_other_grid"), {"sample_ms": sample_ms}
        )
    finally:
        ctx.conn.unregister("reloaded_series")


def _scope(ctx: Ctx) -> str | None:
    """The cluster all of this group's rows get, when known before reading them."""
    return ctx.settings.cluster or ctx.shard


def _beyond_stored(ctx: Ctx, a: datetime) -> bool:
    if _NEWEST not in ctx.state:
        rel = ctx.conn.execute(
            store.load_sql("collect/prometheus_samples_newest"), {"cluster": _scope(ctx)}
        ).fetchall()
        ctx.state[_NEWEST] = rel[0][0]
    newest = ctx.state[_NEWEST]
    return newest is None or newest < a


def _gaps_from_table(ctx: Ctx, a: datetime, b: datetime) -> pl.DataFrame:
    params = {
        "start": a,
        "end": b,
        "since": a - ctx.settings.gap_lookback,
        "tolerance_s": ctx.tolerance.total_seconds(),
        "step_s": ctx.step.total_seconds(),
    }
    return frame_of(ctx.conn.sql(store.load_sql("collect/prometheus_sample_gaps"), params=params))


def _gaps_from_chunk(ctx: Ctx, good: pl.DataFrame, a: datetime) -> pl.DataFrame:
    """What prometheus_sample_gaps.sql finds, from the chunk's rows and the remembered last
    sample of each series before the chunk (only samples at or after `since` count)."""
    since = a - ctx.settings.gap_lookback
    last = ctx.state.get(_LAST)
    if last is None:
        params = {"since": since, "before": a, "cluster": _scope(ctx)}
        sql = store.load_sql("collect/prometheus_samples_last_seen")
        last = frame_of(ctx.conn.sql(sql, params=params)).rename({"last_ts": "ts"})
    last = last.cast(_SCHEMA).filter(pl.col("ts") >= since)  # type: ignore[arg-type]
    chunk = good.select(*_SCHEMA).cast(_SCHEMA) if good.height else pl.DataFrame(schema=_SCHEMA)  # type: ignore[arg-type]
    step_us = round(ctx.step.total_seconds() * 1_000_000)
    gaps = (
        pl.concat([last.with_columns(_in=pl.lit(False)), chunk.with_columns(_in=pl.lit(True))])
        .sort(*KEY, "ts")
        .with_columns(pl.col("ts").shift(1).over(KEY).alias("_prev"))
        .filter(
            pl.col("_in")
            & pl.col("_prev").is_not_null()
            & (
                (pl.col("ts") - pl.col("_prev")).dt.total_microseconds()
                > ctx.tolerance.total_seconds() * 1_000_000
            )
        )
        .select(
            pl.format(
                'DCGM{{cluster="{}",Hostname="{}",UUID="{}",GPU_I_ID="{}"}}',
                "cluster",
                "node",
                "gpu_uuid",
                "mig_instance_id",
            ).alias("series"),
            (pl.col("_prev") + pl.duration(microseconds=step_us)).alias("gap_start_ts"),
            pl.col("ts").alias("gap_end_ts"),
        )
        .sort("series", "gap_start_ts")
    )
    # Remember each series' newest sample for the next chunk.
    ctx.state[_LAST] = pl.concat([last, chunk]).group_by(KEY).agg(pl.col("ts").max())
    return gaps
