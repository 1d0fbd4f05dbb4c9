"""GPU allocation for a window: price node time, split it over the GPU time pods claimed.

Rebuilds the `allocation` rows of the window (delete then insert in one transaction), records
node time nobody could price in `unpriced_node_hours`, and checks that the allocated money equals
the priced node cost to the micro-dollar before committing. Stages, each a SQL file in
sql/allocate/: price_periods -> node_segments -> gpu_usage -> split (+ unpriced).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import polars as pl

from costlab.allocate.settings import AllocateSettings
from costlab.errors import ConservationError, StoreError, UsageError
from costlab.store import load_sql, transaction
from costlab.timeutil import Window, ceil_hour, floor_hour, parse_ts


@dataclass(frozen=True)
class AllocationRun:
    run_id: str
    window: Window
    total_node_cost_usd_micros: int
    allocated_usd_micros: int
    unpriced_node_hours: float
    rows: int


def data_bounds(conn: duckdb.DuckDBPyConnection) -> tuple[datetime | None, datetime | None]:
    """(first node start, horizon of recorded data); (None, None) for an empty database."""
    rows = conn.execute(load_sql("allocate/data_bounds")).fetchall()
    return (rows[0][0], rows[0][1]) if rows else (None, None)


def resolve_window(
    conn: duckdb.DuckDBPyConnection, start: str | None, end: str | None
) -> tuple[Window, datetime]:
    """(window, horizon): the given bounds, else the span of recorded data, hour-aligned."""
    first, horizon = data_bounds(conn)
    if first is None or horizon is None:
        raise StoreError(
            "the database holds no nodes yet: run `costlab demo` or `costlab collect prometheus`"
        )
    lo = parse_ts(start) if start else floor_hour(first)
    hi = parse_ts(end) if end else ceil_hour(horizon)
    return Window(lo, hi).hour_aligned(), horizon


def hour_buckets(window: Window) -> pl.DataFrame:
    aligned = window.hour_aligned()
    starts = pl.datetime_range(
        aligned.start, aligned.end, interval="1h", closed="left", time_zone="UTC", eager=True
    )
    return pl.DataFrame({"hour_start": starts}).with_columns(
        (pl.col("hour_start") + pl.duration(hours=1)).alias("hour_end")
    )


def team_map(path: Path | None) -> pl.DataFrame:
    """The namespace -> team ownership file as rows (cluster '' = every cluster)."""
    empty = pl.DataFrame(schema={"cluster": pl.String, "namespace": pl.String, "team": pl.String})
    if path is None:
        return empty
    try:
        frame = pl.read_csv(path, infer_schema_length=0)
    except (OSError, pl.exceptions.PolarsError) as exc:
        raise UsageError(f"team map {path}: {exc}".splitlines()[0]) from exc
    missing = {"namespace", "team"} - set(frame.columns)
    if missing:
        raise UsageError(f"team map {path} lacks column(s) {', '.join(sorted(missing))}")
    if "cluster" not in frame.columns:
        frame = frame.with_columns(pl.lit("").alias("cluster"))
    return pl.concat([empty, frame.select("cluster", "namespace", "team").fill_null("")]).unique(
        ["cluster", "namespace"], keep="last", maintain_order=True
    )


def allocate_window(
    conn: duckdb.DuckDBPyConnection,
    window: Window,
    horizon: datetime,
    settings: AllocateSettings | None = None,
) -> AllocationRun:
    """Allocate the hour-aligned `window`; nodes and pods still running count up to `horizon`."""
    cfg = settings or AllocateSettings()
    aligned = window.hour_aligned()
    bounds = {"start": aligned.start, "end": aligned.end}
    params = {
        **bounds,
        "horizon": min(horizon, aligned.end),
        "mode": cfg.mode,
        "gpu_share": cfg.gpu_cost_share,
        "ts_replicas": cfg.time_slicing_replicas,
    }
    conn.register("alloc_hours", hour_buckets(aligned).to_arrow())
    conn.register("alloc_team_map", team_map(cfg.team_map).to_arrow())
    try:
        conn.execute(load_sql("allocate/price_periods"), {**bounds, "horizon": params["horizon"]})
        conn.execute(load_sql("allocate/node_segments"), {"horizon": params["horizon"]})
        conn.execute(
            load_sql("allocate/gpu_usage"),
            {
                **bounds,
                "usage_metric": cfg.usage_metric,
                "default_sample_ms": cfg.default_sample_interval_s * 1000,
            },
        )
        total = conn.execute(
            "SELECT coalesce(sum(cost_usd_micros), 0) FROM alloc_node_segments"
        ).fetchall()[0][0]
        with transaction(conn):
            conn.execute(
                "DELETE FROM allocation WHERE window_start_ts >= $start AND window_start_ts < $end",
                bounds,
            )
            conn.execute("INSERT INTO allocation BY NAME " + load_sql("allocate/split"), params)
            conn.execute(
                "DELETE FROM unpriced_node_hours WHERE window_start_ts >= $start AND window_start_ts < $end",
                bounds,
            )
            conn.execute(
                "INSERT INTO unpriced_node_hours " + load_sql("allocate/unpriced"),
                {"horizon": params["horizon"]},
            )
            allocated, rows = conn.execute(
                "SELECT coalesce(sum(gpu_cost_usd_micros), 0), count(*) FROM allocation "
                "WHERE window_start_ts >= $start AND window_start_ts < $end",
                bounds,
            ).fetchall()[0]
            if int(allocated) != int(total):
                raise ConservationError(
                    f"allocated {allocated} micro-USD but node cost is {total} in {aligned.start}..{aligned.end}"
                )
            unpriced = conn.execute(
                "SELECT coalesce(sum(node_hours), 0) FROM unpriced_node_hours "
                "WHERE window_start_ts >= $start AND window_start_ts < $end",
                bounds,
            ).fetchall()[0][0]
            run = AllocationRun(
                f"alloc-{uuid.uuid4().hex[:12]}",
                aligned,
                int(total),
                int(allocated),
                float(unpriced),
                int(rows),
            )
            conn.execute(
                "INSERT INTO allocation_runs BY NAME SELECT $id AS run_id, $start AS window_start_ts, "
                "$end AS window_end_ts, $now AS finished_ts, $total AS total_node_cost_usd_micros, "
                "$allocated AS allocated_usd_micros, $unpriced AS unpriced_node_hours, $mode AS mode, "
                "$share AS gpu_cost_share",
                {
                    "id": run.run_id,
                    **bounds,
                    "now": datetime.now(UTC),
                    "total": run.total_node_cost_usd_micros,
                    "allocated": run.allocated_usd_micros,
                    "unpriced": run.unpriced_node_hours,
                    "mode": cfg.mode,
                    "share": cfg.gpu_cost_share,
                },
            )
    finally:
        conn.unregister("alloc_hours")
        conn.unregister("alloc_team_map")
    return run
