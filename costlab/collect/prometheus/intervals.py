"""Merging presence intervals across chunks and runs, so chunked loads equal one big load.

Interval tables (`nodes`, `pod_gpu_requests`) are keyed by start_ts. A chunk only sees part of a
node's life: a node alive across a chunk boundary (or an incremental run's watermark) shows up in
both chunks. Instead of writing a second row, the collector keeps, per interval it wrote, the
last timestamp at which the series had a sample (`prometheus_*_presence`). For each chunk:

1. the chunk's samples become runs (start, last_seen) with `series.py`, per entity key;
2. rows already stored for the same entities, last seen no earlier than `since`, are read back;
3. stored and new runs are unioned per entity: runs whose silence between them is at most
   `tolerance` (gap_factor x step) are one interval, with the earliest start and latest last_seen;
4. the interval keeps the earliest start_ts (so the stored row is updated in place) and rows
   folded into it are deleted; end_ts = last_seen + step, or NULL while the entity was seen
   within one step of the horizon (the newest time for which data was fetched). When the latest
   run of an interval is a stored *closed* one, it stays closed: it was closed against a later
   horizon than an older window being backfilled now, so backfilling old windows after newer ones
   cannot reopen a node or pod that had ended.

Union is associative and commutative, so the result does not depend on where chunks (or runs)
were cut: the property the kill-and-rerun test checks. Silences longer than the tolerance between
consecutive intervals of one entity are returned as gaps.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import polars as pl


@dataclass
class MergeResult:
    rows: pl.DataFrame  # interval rows to upsert, with last_seen_ts
    drop: pl.DataFrame  # key + start_ts of stored rows folded into another
    gaps: pl.DataFrame  # keys + gap_start_ts, gap_end_ts


def merge_presence(
    existing: pl.DataFrame,
    new: pl.DataFrame,
    *,
    entity: list[str],
    pk: list[str],
    attrs: list[str],
    step: timedelta,
    tolerance: timedelta,
    horizon: datetime,
    touch_since: datetime,
) -> MergeResult:
    """Union stored and new runs per `entity`; see the module docstring.

    existing: entity + attrs + start_ts, end_ts, last_seen_ts (+ end_reason for nodes).
    new: entity + attrs + start_ts, last_seen_ts.
    pk: the target table's key columns without start_ts (a subset of entity).
    Stored runs last seen before `touch_since` that no new run extends are left as they are.
    """
    has_reason = "end_reason" in existing.columns
    cols = entity + attrs + ["start_ts", "last_seen_ts"]
    extra: list[str] = [c for c in ("end_reason", "end_ts") if c in existing.columns]
    old = existing.select(cols + extra).with_columns(pl.lit(False).alias("_new"))
    if "end_ts" not in old.columns:
        old = old.with_columns(pl.lit(None, dtype=pl.Datetime("us", "UTC")).alias("end_ts"))
    fresh = new.select(cols).with_columns(pl.lit(True).alias("_new"))
    if has_reason:
        fresh = fresh.with_columns(pl.lit(None, dtype=pl.String).alias("end_reason"))
    combined = pl.concat([old, fresh], how="diagonal_relaxed")
    combined = combined.sort(entity + ["start_ts", "last_seen_ts"]).with_columns(
        ((pl.col("start_ts") - pl.col("last_seen_ts").cum_max().shift(1).over(entity)) > tolerance)
        .fill_null(True)
        .cum_sum()
        .over(entity)
        .alias("_gid")
    )
    groups = combined.group_by(entity + ["_gid"]).agg(
        pl.col("start_ts").min(),
        pl.col("last_seen_ts").max(),
        *[pl.col(a).sort_by("last_seen_ts").drop_nulls().last() for a in attrs],
        pl.col("start_ts").filter(~pl.col("_new")).alias("_stored_starts"),
        (pl.col("_new").any() | (pl.col("last_seen_ts") >= touch_since).any()).alias("_touched"),
        (
            ~pl.col("_new")
            & pl.col("end_ts").is_not_null()
            & (pl.col("last_seen_ts") == pl.col("last_seen_ts").max())
        )
        .any()
        .alias("_closed"),
        *(
            [
                pl.col("end_reason")
                .filter(pl.col("end_reason").is_not_null() & (pl.col("end_reason") != "unknown"))
                .first()
                .alias("_prior_reason")
            ]
            if has_reason
            else []
        ),
    )
    end = pl.col("last_seen_ts") + step
    groups = groups.with_columns(
        pl.when(pl.col("_closed"))
        .then(end)
        .when(end >= pl.lit(horizon))
        .then(None)
        .otherwise(end)
        .alias("end_ts")
    )
    ordered = groups.sort(entity + ["start_ts"])
    gaps = (
        ordered.with_columns(
            (pl.col("last_seen_ts").shift(1).over(entity) + step).alias("gap_start_ts"),
            pl.col("start_ts").alias("gap_end_ts"),
        )
        .filter(pl.col("gap_start_ts").is_not_null() & pl.col("_touched"))
        .select(entity + ["gap_start_ts", "gap_end_ts"])
    )
    touched = groups.filter(pl.col("_touched"))
    drop = (
        touched.select(pk + ["start_ts", "_stored_starts"])
        .explode("_stored_starts")
        .filter(
            pl.col("_stored_starts").is_not_null()
            & (pl.col("_stored_starts") != pl.col("start_ts"))
        )
        .select(pk + [pl.col("_stored_starts").alias("start_ts")])
        .unique()
    )
    return MergeResult(
        rows=touched.drop("_gid", "_stored_starts", "_touched", "_closed"), drop=drop, gaps=gaps
    )
