"""Request-based GPU allocation for a window: price node time, split it over requested GPU-time.

Rebuilds the `allocation` rows of the window (delete then insert in one transaction), records
node time nobody could price in `unpriced_node_hours`, and checks that the allocated money equals
the priced node cost to the micro-dollar before committing.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

import duckdb
import polars as pl

from costlab.errors import ConservationError
from costlab.store import load_sql, transaction
from costlab.timeutil import Window


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
    row = conn.execute(load_sql("allocate/data_bounds")).fetchone()
    return (row[0], row[1]) if row else (None, None)


def hour_buckets(window: Window) -> pl.DataFrame:
    aligned = window.hour_aligned()
    starts = pl.datetime_range(aligned.start, aligned.end, interval="1h", closed="left", time_zone="UTC", eager=True)
    return pl.DataFrame({"hour_start": starts}).with_columns(
        (pl.col("hour_start") + pl.duration(hours=1)).alias("hour_end")
    )


def allocate_window(conn: duckdb.DuckDBPyConnection, window: Window, horizon: datetime) -> AllocationRun:
    """Allocate the hour-aligned `window`; nodes and pods still running count up to `horizon`."""
    aligned = window.hour_aligned()
    params = {"start": aligned.start, "end": aligned.end, "horizon": min(horizon, aligned.end)}
    conn.register("alloc_hours", hour_buckets(aligned).to_arrow())
    try:
        conn.execute(load_sql("allocate/price_periods"), params)
        conn.execute(load_sql("allocate/node_segments"), {"horizon": params["horizon"]})
        total = conn.execute("SELECT coalesce(sum(cost_usd_micros), 0) FROM alloc_node_segments").fetchone()[0]
        with transaction(conn):
            conn.execute(
                "DELETE FROM allocation WHERE window_start_ts >= $start AND window_start_ts < $end",
                {"start": aligned.start, "end": aligned.end},
            )
            conn.execute("INSERT INTO allocation " + load_sql("allocate/split_request_based"), params)
            conn.execute(
                "DELETE FROM unpriced_node_hours WHERE window_start_ts >= $start AND window_start_ts < $end",
                {"start": aligned.start, "end": aligned.end},
            )
            conn.execute("INSERT INTO unpriced_node_hours " + load_sql("allocate/unpriced"), {"horizon": params["horizon"]})
            allocated, rows = conn.execute(
                "SELECT coalesce(sum(gpu_cost_usd_micros), 0), count(*) FROM allocation "
                "WHERE window_start_ts >= $start AND window_start_ts < $end",
                {"start": aligned.start, "end": aligned.end},
            ).fetchone()
            if int(allocated) != int(total):
                raise ConservationError(
                    f"allocated {allocated} micro-USD but node cost is {total} in {aligned.start}..{aligned.end}"
                )
            unpriced = conn.execute(
                "SELECT coalesce(sum(node_hours), 0) FROM unpriced_node_hours "
                "WHERE window_start_ts >= $start AND window_start_ts < $end",
                {"start": aligned.start, "end": aligned.end},
            ).fetchone()[0]
            run = AllocationRun(f"alloc-{uuid.uuid4().hex[:12]}", aligned, int(total), int(allocated), float(unpriced), int(rows))
            conn.execute(
                "INSERT INTO allocation_runs VALUES ($id, $start, $end, $now, $total, $allocated, $unpriced)",
                {
                    "id": run.run_id, "start": aligned.start, "end": aligned.end, "now": datetime.now(UTC),
                    "total": run.total_node_cost_usd_micros, "allocated": run.allocated_usd_micros,
                    "unpriced": run.unpriced_node_hours,
                },
            )
    finally:
        conn.unregister("alloc_hours")
    return run
