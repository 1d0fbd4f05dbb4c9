"""GPU allocation for a window: price node time, split it over the GPU time pods claimed.

Rebuilds the `allocation` rows of the window (delete then insert in one transaction), records
node time nobody could price in `unpriced_node_hours`, and checks that the allocated money equals
the priced node cost to the micro-dollar before committing. Stages, each a SQL file in
sql/allocate/: price_keys -> price_periods -> node_segments -> gpu_usage -> split (+ unpriced).

The engine is defined once here: `ALLOCATION_STAGES` (the SQL files in order, with the table each
produces), `allocation_params` (the values they bind) and `allocation_inputs` (the frames they
read besides the schema's tables). `allocate_window` runs them on DuckDB;
costlab/scale/spark_engine.py runs the same definitions, transpiled, on Spark.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import polars as pl
import pyarrow as pa

from costlab import progress
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

    @staticmethod
    def combine(runs: list[AllocationRun]) -> AllocationRun:
        """Consecutive runs as one (the last run's id; every run is in allocation_runs)."""
        if len(runs) == 1:
            return runs[0]
        return AllocationRun(
            runs[-1].run_id,
            Window(runs[0].window.start, runs[-1].window.end),
            sum(r.total_node_cost_usd_micros for r in runs),
            sum(r.allocated_usd_micros for r in runs),
            sum(r.unpriced_node_hours for r in runs),
            sum(r.rows for r in runs),
        )


@dataclass(frozen=True)
class Stage:
    """One SQL file of the allocation (`sql/<sql_name>.sql`) and the table it produces.

    A temp stage (result=False) creates the temporary table `table` that later stages read. A
    result stage (result=True) is one SELECT whose rows are the window's rows of the engine output
    `table`, matched to its columns by name (by_name) or by position.
    """

    sql_name: str
    table: str
    result: bool = False
    by_name: bool = False


# The allocation, in run order; result stages come after every temp stage.
ALLOCATION_STAGES: tuple[Stage, ...] = (
    Stage("allocate/price_keys", "alloc_price_keys"),
    Stage("allocate/price_periods", "alloc_price_periods"),
    Stage("allocate/node_segments", "alloc_node_segments"),
    Stage("allocate/gpu_usage", "alloc_gpu_usage"),
    Stage("allocate/split", "allocation", result=True, by_name=True),
    Stage("allocate/unpriced", "unpriced_node_hours", result=True),
)
# The priced node cost of the window (reads alloc_node_segments): what the allocation conserves.
NODE_COST_TOTAL_SQL = "scale/node_cost_total"

# Statements on the result tables, by result table (identifiers are never formatted in); in
# sql/allocate/write/ because they are DuckDB bookkeeping, not stages the Spark path runs.
_CLEAR_WINDOW = {
    "allocation": "allocate/write/clear_allocation",
    "unpriced_node_hours": "allocate/write/clear_unpriced",
}
_INSERT_INTO = {
    ("allocation", True): "allocate/write/insert_allocation",
    ("unpriced_node_hours", False): "allocate/write/insert_unpriced",
}


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


def allocation_params(window: Window, horizon: datetime, cfg: AllocateSettings) -> dict[str, Any]:
    """Every value the allocation stages bind, for the hour-aligned `window`; each statement
    takes the ones it names. Nodes and pods still running count up to `horizon` (capped at the end).
    """
    aligned = window.hour_aligned()
    return {
        "start": aligned.start,
        "end": aligned.end,
        "horizon": min(horizon, aligned.end),
        "mode": cfg.mode,
        "gpu_share": cfg.gpu_cost_share,
        "ts_replicas": cfg.time_slicing_replicas,
        "usage_metric": cfg.usage_metric,
        "default_sample_ms": cfg.default_sample_interval_s * 1000,
    }


def allocation_inputs(window: Window, cfg: AllocateSettings) -> dict[str, pa.Table]:
    """The frames the stages read besides the schema's tables, by the name they are registered as."""
    return {
        "alloc_hours": hour_buckets(window.hour_aligned()).to_arrow(),
        "alloc_team_map": team_map(cfg.team_map).to_arrow(),
    }


def window_chunks(window: Window, max_days: int) -> list[Window]:
    """The hour-aligned window cut into consecutive windows of at most `max_days` days."""
    aligned = window.hour_aligned()
    span = timedelta(days=max_days)
    chunks, a = [], aligned.start
    while a < aligned.end:
        chunks.append(Window(a, min(a + span, aligned.end)))
        a = chunks[-1].end
    return chunks


def allocate_range(
    conn: duckdb.DuckDBPyConnection,
    window: Window,
    horizon: datetime,
    settings: AllocateSettings | None = None,
) -> AllocationRun:
    """allocate_window over `window` in chunks of at most `max_window_days` days.

    The rows are those of one allocate_window over the whole window (hours are allocated
    independently); chunking keeps memory and the pods-to-segments join bounded per chunk, where
    one year-long window would pair every pod of a node with every segment of that node.
    """
    cfg = settings or AllocateSettings()
    chunks = window_chunks(window, cfg.max_window_days)
    runs = []
    with progress.track("allocate", len(chunks), "chunks") as bar:
        for chunk in chunks:
            bar.update(description=f"allocate {chunk.start:%Y-%m-%d}")
            runs.append(allocate_window(conn, chunk, horizon, cfg))
            bar.advance()
    return AllocationRun.combine(runs)


def _execute(conn: duckdb.DuckDBPyConnection, sql: str, params: dict[str, Any]) -> None:
    """Run every statement of `sql`, each bound to the parameters it names."""
    for statement in conn.extract_statements(sql):
        conn.execute(statement, {name: params[name] for name in statement.named_parameters})


def allocate_window(
    conn: duckdb.DuckDBPyConnection,
    window: Window,
    horizon: datetime,
    settings: AllocateSettings | None = None,
) -> AllocationRun:
    """Allocate the hour-aligned `window`; nodes and pods still running count up to `horizon`.

    Runs ALLOCATION_STAGES: the temp stages, then, in one transaction, each result stage replaces
    the window's rows of its table.
    """
    cfg = settings or AllocateSettings()
    aligned = window.hour_aligned()
    bounds = {"start": aligned.start, "end": aligned.end}
    params = allocation_params(aligned, horizon, cfg)
    inputs = allocation_inputs(aligned, cfg)
    for name, frame in inputs.items():
        conn.register(name, frame)
    try:
        for stage in ALLOCATION_STAGES:
            if not stage.result:
                _execute(conn, load_sql(stage.sql_name), params)
        total = conn.execute(load_sql(NODE_COST_TOTAL_SQL)).fetchall()[0][0]
        with transaction(conn):
            for stage in ALLOCATION_STAGES:
                if stage.result:
                    conn.execute(load_sql(_CLEAR_WINDOW[stage.table]), bounds)
                    insert = load_sql(_INSERT_INTO[(stage.table, stage.by_name)]).strip()
                    _execute(conn, f"{insert}\n{load_sql(stage.sql_name)}", params)
            allocated, rows, unpriced = conn.execute(
                load_sql("allocate/write/window_totals"), bounds
            ).fetchall()[0]
            if int(allocated) != int(total):
                raise ConservationError(
                    f"allocated {allocated} micro-USD but node cost is {total} in {aligned.start}..{aligned.end}"
                )
            run = AllocationRun(
                f"alloc-{uuid.uuid4().hex[:12]}",
                aligned,
                int(total),
                int(allocated),
                float(unpriced),
                int(rows),
            )
            conn.execute(
                load_sql("allocate/write/record_run"),
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
        for name in inputs:
            conn.unregister(name)
    return run
