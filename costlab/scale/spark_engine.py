"""The allocation on Apache Spark: the SQL of sql/allocate/, transpiled, over the Parquet layout.

One engine definition, two executors. `allocate_window_spark` runs the allocation defined in
costlab.allocate.gpu (ALLOCATION_STAGES in order, allocation_params, allocation_inputs), the same
definitions allocate_window runs on DuckDB, each stage's SQL transpiled by costlab/scale/transpile:
temp tables become persisted temporary views, the result stages' SELECTs are conformed to the
`allocation` and `unpriced_node_hours` schemas and written as Parquet in the layout of
parquet_layout, together with an `allocation_runs` row. The money conservation check (node cost =
allocated cost, to the micro-dollar) runs before anything is written. `import_results` loads the
output into DuckDB.

pyspark is an optional dependency (the `spark` extra); it is imported when a session is made.
"""

from __future__ import annotations

import dataclasses
import logging
import time
import uuid
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from costlab.allocate import gpu
from costlab.allocate import report as alloc_report
from costlab.allocate.gpu import AllocationRun
from costlab.allocate.settings import AllocateSettings
from costlab.errors import ConservationError, StoreError
from costlab.scale import parquet_layout as layout
from costlab.scale.transpile import SparkStatement, spark_expression, spark_type, to_spark
from costlab.store import load_sql
from costlab.timeutil import Window

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

log = logging.getLogger(__name__)

# Settings every costlab Spark session needs, whatever its size: UTC like the DuckDB connection,
# timestamps written as TIMESTAMP_MICROS (isAdjustedToUTC, read back as TIMESTAMPTZ by DuckDB),
# partition folder values kept as strings (cluster "007" stays "007").
REQUIRED_CONF = {
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.parquet.outputTimestampType": "TIMESTAMP_MICROS",
    "spark.sql.sources.partitionColumnTypeInference.enabled": "false",
    "spark.sql.sources.partitionOverwriteMode": "static",
}
# Defaults for a small local session (tests, one machine); a cluster passes its own.
LOCAL_CONF = {
    "spark.sql.shuffle.partitions": "4",
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
    "spark.driver.memory": "2g",
}


def spark_session(
    master: str = "local[2]", *, app_name: str = "costlab", conf: dict[str, str] | None = None
) -> SparkSession:
    """A Spark session for costlab: REQUIRED_CONF always, LOCAL_CONF for local masters, then `conf`."""
    from pyspark.sql import SparkSession

    builder = SparkSession.builder.master(master).appName(app_name)
    settings = {
        **(LOCAL_CONF if master.startswith("local") else {}),
        **REQUIRED_CONF,
        **(conf or {}),
    }
    for key, value in settings.items():
        builder = builder.config(key, value)
    session = builder.getOrCreate()
    session.sparkContext.setLogLevel("ERROR")
    return session


def spark_path(root: str) -> str:
    """Where Spark reads a layout root: s3:// becomes s3a:// (hadoop-aws); local paths as they are."""
    root = layout.normalize_root(root)
    return "s3a://" + root.removeprefix("s3://") if root.startswith("s3://") else root


def _conform(df: DataFrame, table: str, by_name: bool) -> DataFrame:
    """df with exactly the table's columns, in table order and types (absent ones: their default)."""
    from pyspark.sql import functions as F

    cols = layout.columns_of(table)
    if not by_name:
        if len(df.columns) != len(cols):
            raise StoreError(
                f"{table} has {len(cols)} columns but the query returns {len(df.columns)}"
            )
        df = df.toDF(*[c.name for c in cols])
    present = set(df.columns)
    out = []
    for c in cols:
        typ = spark_type(c.duckdb_type)
        if c.name in present:
            out.append(F.col(c.name).cast(typ).alias(c.name))
        elif c.default is not None:
            out.append(F.expr(spark_expression(c.default)).cast(typ).alias(c.name))
        else:
            out.append(F.lit(None).cast(typ).alias(c.name))
    return df.select(*out)


def register_tables(
    spark: SparkSession,
    root: str | Path,
    *,
    tables: Iterable[str] | None = None,
    window: Window | None = None,
) -> list[str]:
    """Temporary views over a Parquet layout, named and typed as the schema's tables.

    With a window, tables in WINDOW_PRUNABLE read only the `date=` folders the window touches.
    Engine outputs are skipped unless named in `tables`. Returns the names registered.
    """
    from pyspark.sql import functions as F

    root = layout.normalize_root(root)
    present = layout.tables_in(root)
    names = (
        list(tables)
        if tables is not None
        else [t for t in present if t not in layout.RESULT_TABLES]
    )
    missing = [t for t in names if t not in present]
    if missing:
        raise StoreError(f"{root} holds no table(s) {', '.join(missing)}")
    for table in names:
        path = spark_path(layout.table_uri(root, table))
        df = spark.read.option("mergeSchema", "true").parquet(path)
        if window is not None and table in layout.WINDOW_PRUNABLE and layout.DATE_DIR in df.columns:
            first, last = (
                window.start.date().isoformat(),
                (window.end - timedelta(microseconds=1)).date().isoformat(),
            )
            df = df.where(F.col(layout.DATE_DIR).between(first, last))
        _with_derived(_conform(df, table, by_name=True), table).createOrReplaceTempView(table)
    return names


def _with_derived(df: DataFrame, table: str) -> DataFrame:
    """df plus the table's generated columns, from the expressions the schema defines them by."""
    from pyspark.sql import functions as F

    for c in layout.derived_columns(table):
        assert c.default is not None  # a generated column always has its expression
        expr = F.expr(spark_expression(c.default)).cast(spark_type(c.duckdb_type))
        df = df.withColumn(c.name, expr)
    return df


def _register_frame(spark: SparkSession, name: str, frame: pa.Table) -> None:
    spark.createDataFrame(
        frame.to_pandas() if frame.num_rows == 0 else frame, schema=_ddl(frame.schema)
    ).createOrReplaceTempView(name)


def _ddl(schema: pa.Schema) -> str:
    kinds = {pa.string(): "STRING", pa.large_string(): "STRING"}
    parts = []
    for f in schema:
        kind = "TIMESTAMP" if pa.types.is_timestamp(f.type) else kinds.get(f.type)
        if kind is None:
            raise StoreError(f"no Spark type for registered column {f.name} ({f.type})")
        parts.append(f"`{f.name}` {kind}")
    return ", ".join(parts)


def allocation_plan() -> list[tuple[gpu.Stage, SparkStatement]]:
    """What allocate_window_spark runs, in order: gpu.ALLOCATION_STAGES, each file transpiled.

    A temp stage's statements must create temp tables, the last one the stage's table; a result
    stage is one SELECT, whose rows become the stage's table.
    """
    plan: list[tuple[gpu.Stage, SparkStatement]] = []
    for stage in gpu.ALLOCATION_STAGES:
        statements = to_spark(load_sql(stage.sql_name))
        if stage.result:
            if [s.kind for s in statements] != ["query"]:
                raise StoreError(f"{stage.sql_name}: a result stage must be one SELECT")
            statements = [
                dataclasses.replace(
                    statements[0], kind="insert", target=stage.table, by_name=stage.by_name
                )
            ]
        elif (
            any(s.kind != "temp_table" for s in statements) or statements[-1].target != stage.table
        ):
            raise StoreError(
                f"{stage.sql_name}: expected CREATE TEMP TABLE statements ending in {stage.table}"
            )
        plan.extend((stage, s) for s in statements)
    return plan


def _write(df: DataFrame, out: str, table: str) -> None:
    """Replace `<out>/<table>` with df in the layout's partitioning (empty: one empty file)."""
    from pyspark.sql import functions as F

    part = layout.partitioning(table)
    if df.isEmpty():
        layout.write_table([], out, table)
        return
    if part.date_of:
        df = df.withColumn(layout.DATE_DIR, F.date_format(F.col(part.date_of), "yyyy-MM-dd"))
    folders = list(part.folders)
    writer = (df.repartition(*folders) if folders else df.coalesce(1)).write.mode("overwrite")
    if folders:
        writer = writer.partitionBy(*folders)
    writer.parquet(spark_path(layout.table_uri(out, table)))


def allocate_window_spark(
    spark: SparkSession,
    source: str | Path,
    out: str | Path,
    window: Window,
    horizon: datetime,
    settings: AllocateSettings | None = None,
) -> AllocationRun:
    """Allocate the hour-aligned `window` on Spark, reading the layout at `source`, writing to `out`.

    `out` receives allocation, unpriced_node_hours and allocation_runs (replaced) in the Parquet
    layout; load them into DuckDB with parquet_layout.import_results. Money: allocation rows sum
    to the priced node cost to the micro-dollar, or ConservationError and nothing is written.
    """
    cfg = settings or AllocateSettings()
    aligned = window.hour_aligned()
    params = gpu.allocation_params(aligned, horizon, cfg)
    out = layout.normalize_root(out)
    plan = allocation_plan()
    register_tables(spark, source, window=aligned)
    for name, frame in gpu.allocation_inputs(aligned, cfg).items():
        _register_frame(spark, name, frame)
    outputs: dict[str, DataFrame] = {}
    for stage, statement in plan:
        began = time.monotonic()
        sql, args = statement.bind(params)
        df = spark.sql(sql, args=args)
        assert statement.target is not None  # allocation_plan: only temp tables and inserts
        if statement.kind == "insert":
            df = _conform(df, statement.target, statement.by_name)
        # Materialised once, lineage cut: a later stage reading the view reads these rows.
        # (persist() is not enough: Spark does not match a view of a parameterised query to
        # its cache, so every later stage recomputed gpu_usage from the samples.)
        df = df.localCheckpoint(eager=True)
        if statement.kind == "temp_table":
            df.createOrReplaceTempView(statement.target)
        else:
            outputs[statement.target] = df
        log.info("%s: %.1f s", stage.sql_name, time.monotonic() - began)
    began = time.monotonic()
    total = spark.sql(load_sql(gpu.NODE_COST_TOTAL_SQL)).collect()[0][0]
    allocation = outputs["allocation"]
    from pyspark.sql import functions as F

    # a row's charge is the sum of its stored parts (allocation.gpu_cost_usd_micros in DuckDB)
    sums = (
        _with_derived(allocation, "allocation")
        .agg(F.count(F.lit(1)), F.coalesce(F.sum("gpu_cost_usd_micros"), F.lit(0)))
        .collect()[0]
    )
    rows, allocated = int(sums[0]), int(sums[1])
    if allocated != int(total):
        raise ConservationError(
            f"allocated {allocated} micro-USD but node cost is {total} in {aligned.start}..{aligned.end}"
        )
    unpriced = (
        outputs["unpriced_node_hours"]
        .agg(F.coalesce(F.sum("node_hours"), F.lit(0.0)))
        .collect()[0][0]
    )
    run = AllocationRun(
        f"alloc-{uuid.uuid4().hex[:12]}", aligned, int(total), allocated, float(unpriced), rows
    )
    log.info("conservation check: %.1f s", time.monotonic() - began)
    began = time.monotonic()
    for table, df in outputs.items():
        _write(df, out, table)
    layout.write_table([_run_batch(run, cfg)], out, "allocation_runs")
    layout.record_tables(out, layout.RESULT_TABLES)
    log.info("write: %.1f s", time.monotonic() - began)
    log.info(
        "spark allocation %s: %d rows, %d micro-USD", run.run_id, run.rows, run.allocated_usd_micros
    )
    return run


def _run_batch(run: AllocationRun, cfg: AllocateSettings) -> pa.RecordBatch:
    """The allocation_runs row of a Spark run (columns absent here take their schema default)."""
    values = {
        "run_id": run.run_id,
        "window_start_ts": run.window.start,
        "window_end_ts": run.window.end,
        "finished_ts": datetime.now(UTC),
        "total_node_cost_usd_micros": run.total_node_cost_usd_micros,
        "allocated_usd_micros": run.allocated_usd_micros,
        "unpriced_node_hours": run.unpriced_node_hours,
        "mode": cfg.mode,
        "gpu_cost_share": cfg.gpu_cost_share,
    }
    schema = layout.arrow_schema("allocation_runs")
    unknown = set(values) - set(schema.names)
    if unknown:
        raise StoreError(f"allocation_runs has no column(s) {', '.join(sorted(unknown))}")
    return pa.RecordBatch.from_pylist([{n: values.get(n) for n in schema.names}], schema=schema)


def report_rows_spark(
    spark: SparkSession,
    window: Window,
    *,
    by: str = "team",
    idle: str = "separate",
    scope: str = "cluster",
    tenant: str | None = None,
) -> list[tuple[Any, ...]]:
    """The rows of report_by.sql on Spark, in its column order, over the registered views."""
    (statement,) = to_spark(alloc_report.report_sql())
    sql, args = statement.bind(alloc_report.report_params(window, by, idle, scope, tenant))
    return [tuple(r) for r in spark.sql(sql, args=args).collect()]


def report_by_spark(
    spark: SparkSession,
    window: Window,
    *,
    source: str | Path,
    results: str | Path,
    by: str = "team",
    idle: str = "separate",
    scope: str = "cluster",
    tenant: str | None = None,
) -> list[alloc_report.TenantRow]:
    """`costlab.allocate.report.report_by` on Spark: labels from `source`, allocation from `results`."""
    register_tables(spark, source)
    register_tables(spark, results, tables=["allocation"])
    (statement,) = to_spark(alloc_report.report_sql())
    sql, args = statement.bind(alloc_report.report_params(window, by, idle, scope, tenant))
    return [_tenant_row(r.asDict()) for r in spark.sql(sql, args=args).collect()]


def _tenant_row(values: dict[str, Any]) -> alloc_report.TenantRow:
    """A TenantRow from a result row by column name; NULL in a non-optional number is 0."""
    kwargs: dict[str, Any] = {}
    for f in dataclasses.fields(alloc_report.TenantRow):
        if f.name in values:
            v = values[f.name]
            kwargs[f.name] = v if v is not None or "None" in str(f.type) else 0
    return alloc_report.TenantRow(**kwargs)
