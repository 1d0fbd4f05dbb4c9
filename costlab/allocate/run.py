"""`costlab allocate`: one orchestration for every engine and input.

Resolve the window, allocate it (in the database, from a Parquet layout on DuckDB, or on Spark
chunk by chunk), land the allocation in the database, then report it with report_by: the CLI,
pipeline and tests all come through `allocate_with_engine`.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import duckdb

from costlab import progress, store
from costlab.allocate import report as alloc_report
from costlab.allocate.gpu import (
    AllocationRun,
    allocate_range,
    resolve_window,
    team_map,
    window_chunks,
)
from costlab.allocate.settings import AllocateSettings
from costlab.allocate.window import clip_window
from costlab.errors import UsageError
from costlab.scale import parquet_layout as layout
from costlab.timeutil import Window


def allocate_with_engine(
    db: Path,
    *,
    engine: str = "duckdb",
    input_root: str | None = None,
    spark_master: str = "local[2]",
    start: str | None = None,
    end: str | None = None,
    by: str = "team",
    idle: str = "separate",
    settings: AllocateSettings | None = None,
) -> alloc_report.AllocationResult:
    """`costlab allocate` with --engine duckdb|spark and --input PATH (a Parquet layout).

    duckdb: allocate in `db`; with an input, the raw tables are read from the Parquet in place.
    spark: needs an input; the allocation is computed by Spark, written to `<input>/_results`,
    then loaded into `db`, so reports, dashboard and rules read it as usual.
    """
    alloc_report.parse_by(by)
    cfg = settings or AllocateSettings()
    if engine not in ("duckdb", "spark"):
        raise UsageError(f"--engine must be duckdb or spark, not {engine!r}")
    if engine == "spark" and not input_root:
        raise UsageError(
            "--engine spark reads a Parquet layout: pass --input PATH (see costlab export parquet)"
        )
    conn = store.connect(db)
    try:
        scratch = store.connect(":memory:") if input_root else conn
        if input_root:
            layout.attach_parquet(scratch, input_root)
        window, horizon = resolve_window(scratch, start, end)
        window = clip_window(scratch, window)
        if engine == "duckdb" and input_root:
            run = allocate_range(scratch, window, horizon, cfg)
            out = layout.normalize_root(input_root) + "/_results"
            for table in layout.RESULT_TABLES:
                layout.write_table(scratch.cursor().table(table).to_arrow_reader(), out, table)
            layout.record_tables(out, layout.RESULT_TABLES)
            layout.import_results(conn, out)
        elif engine == "duckdb":
            run = allocate_range(conn, window, horizon, cfg)
        else:
            assert input_root  # spark without an input was refused above
            run = _allocate_spark(conn, input_root, spark_master, window, horizon, cfg)
        rows = alloc_report.report_by(conn, window, by=by, idle=idle, scope=cfg.idle_share_scope)
        mapped = team_map(cfg.team_map)["namespace"].to_list()
        fallback = alloc_report.team_fallback(conn, window, mapped)
    finally:
        conn.close()
    return alloc_report.AllocationResult(
        window=window,
        by=by,
        idle=idle,
        total_node_cost_usd_micros=run.total_node_cost_usd_micros,
        unpriced_node_hours=run.unpriced_node_hours,
        rows=rows,
        team_fallback_namespaces=fallback[0],
        team_fallback_usd_micros=fallback[1],
    )


def _allocate_spark(
    conn: duckdb.DuckDBPyConnection,
    root: str,
    master: str,
    window: Window,
    horizon: datetime,
    cfg: AllocateSettings,
) -> AllocationRun:
    """Spark allocates each chunk of at most max_window_days into `<root>/_results` (replaced per
    chunk), and each chunk is loaded into the database before the next."""
    from costlab.scale.spark_engine import allocate_window_spark, spark_session

    out = layout.normalize_root(root) + "/_results"
    spark = spark_session(master)
    try:
        runs = []
        chunks = window_chunks(window, cfg.max_window_days)
        with progress.track("allocate (spark)", len(chunks), "chunks") as bar:
            for chunk in chunks:
                bar.update(description=f"allocate {chunk.start:%Y-%m-%d}")
                runs.append(allocate_window_spark(spark, root, out, chunk, horizon, cfg))
                layout.import_results(conn, out)
                bar.advance()
        return AllocationRun.combine(runs)
    finally:
        spark.stop()
