"""The raw tables as Hive-partitioned Parquet, on a local folder or S3, and DuckDB views over it.

Layout under a root (a folder or `s3://bucket/prefix`):

    <root>/_costlab_layout.json                  tables present and how each is partitioned
    <root>/gpu_samples/cluster=<c>/date=<YYYY-MM-DD>/part-*.parquet
    <root>/nodes/cluster=<c>/part-*.parquet      (also pod_gpu_requests, pod_labels, namespace_labels)
    <root>/llm_observations/date=<YYYY-MM-DD>/part-*.parquet
    <root>/allocation/cluster=<c>/date=<YYYY-MM-DD>/part-*.parquet (engine output, same for unpriced_node_hours)
    <root>/<other table>/part-*.parquet          small tables (prices, labels' seeds, runs): one folder

`date` is the UTC date of a timestamp column and exists only as a folder name: readers drop it.
Partition columns are stored only in folder names, as the Hive convention has it. Column names and
types are those of the migrated schema (sql/schema), so the same files feed DuckDB and Spark.
`s3://` goes through pyarrow's S3 filesystem both ways (AWS default credential chain; endpoint
and region from AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL and AWS_REGION / AWS_DEFAULT_REGION): DuckDB
reads it as pyarrow datasets (projection and filter pushdown), so no DuckDB extension is needed.
costlab/scale/publish.py replaces single partitions in place; `_costlab_publish/` holds its
journals (an unfinished publish) and cursors.
"""

from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.fs as pafs
import pyarrow.parquet as pq
from sqlglot import exp

from costlab import paths, store
from costlab.errors import StoreError, UsageError

log = logging.getLogger(__name__)

MANIFEST = "_costlab_layout.json"
PUBLISH_DIR = "_costlab_publish"  # journals of publishes in progress (or interrupted), cursors
JOURNAL_PREFIX = "journal-"
DATE_DIR = "date"
_SAFE_DIR_VALUE = r"^[A-Za-z0-9._-]+$"
EMPTY_SUFFIX = "-empty.parquet"
_TABLE = re.compile(r"^[a-z_][a-z0-9_]*$")


@dataclass(frozen=True)
class Partitioning:
    """Hive folders of a table: table columns first, then `date=` from `date_of` (UTC)."""

    columns: tuple[str, ...] = ()
    date_of: str | None = None

    @property
    def folders(self) -> tuple[str, ...]:
        return self.columns + ((DATE_DIR,) if self.date_of else ())


# Big tables by cluster and day (a day of one cluster is one Spark task's input); the per-cluster
# interval tables by cluster only; everything else (prices, seeds, runs, watermarks) is small.
LAYOUT: dict[str, Partitioning] = {
    "gpu_samples": Partitioning(("cluster",), "ts"),
    "nodes": Partitioning(("cluster",)),
    "pod_gpu_requests": Partitioning(("cluster",)),
    "pod_labels": Partitioning(("cluster",)),
    "namespace_labels": Partitioning(("cluster",)),
    "llm_observations": Partitioning((), "start_ts"),
    "allocation": Partitioning(("cluster",), "window_start_ts"),
    "unpriced_node_hours": Partitioning(("cluster",), "window_start_ts"),
}

# Tables whose every reader in sql/allocate/ bounds the timestamp by the window, so a reader may
# skip `date=` folders outside it (Spark does; DuckDB prunes row groups by statistics instead).
WINDOW_PRUNABLE = ("gpu_samples",)


@dataclass(frozen=True)
class Column:
    name: str
    duckdb_type: str
    default: str | None  # for a generated column: its expression
    generated: bool = False  # derived from stored columns (a total from its parts): not stored


@cache
def catalogue() -> dict[str, tuple[Column, ...]]:
    """Every costlab table -> its columns, from an in-memory database migrated to the latest schema."""
    conn = store.connect(":memory:")
    try:
        rows = conn.execute(store.load_sql("scale/catalogue")).fetchall()
    finally:
        conn.close()
    tables: dict[str, list[Column]] = {}
    for table, column, dtype, default, _, generated in rows:
        tables.setdefault(table, []).append(Column(column, dtype, default, bool(generated)))
    return {t: tuple(cols) for t, cols in tables.items()}


def _all_columns(table: str) -> tuple[Column, ...]:
    cols = catalogue().get(table)
    if cols is None:
        raise StoreError(f"unknown table {table!r}")
    return cols


def columns_of(table: str) -> tuple[Column, ...]:
    """The stored columns of `table`: what its Parquet holds and an engine writes."""
    return tuple(c for c in _all_columns(table) if not c.generated)


def derived_columns(table: str) -> tuple[Column, ...]:
    """The generated columns of `table` (e.g. allocation.gpu_cost_usd_micros, the sum of its
    parts): computed by a reader from the stored ones, never written."""
    return tuple(c for c in _all_columns(table) if c.generated)


def partitioning(table: str) -> Partitioning:
    return LAYOUT.get(table, Partitioning())


# ---------------------------------------------------------------- paths and filesystems


def normalize_root(root: str | Path) -> str:
    """An absolute local path, or an `s3://` URI unchanged (trailing slash removed)."""
    text = str(root)
    if "://" in text:
        if not text.startswith("s3://"):
            raise UsageError(f"{text}: only local folders and s3:// URIs are supported")
        return text.rstrip("/")
    # '' would silently mean the working directory; a file (or a path below one) is no layout
    return str(paths.folder(text, "Parquet layout").resolve())


def filesystem(root: str) -> tuple[pafs.FileSystem, str]:
    """(pyarrow filesystem, path inside it) for a normalised root; S3 uses the AWS chain."""
    if root.startswith("s3://"):
        path = root.removeprefix("s3://")
        endpoint = os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")
        region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
        return _s3_filesystem(path.split("/", 1)[0], endpoint or None, region or None), path
    fs, path = pafs.FileSystem.from_uri(root)
    return fs, path


@cache
def _s3_filesystem(bucket: str, endpoint: str | None, region: str | None) -> pafs.S3FileSystem:
    """pyarrow's S3 client: credentials from the AWS default chain (env, profile, IRSA, instance).

    The endpoint (MinIO, moto, a VPC endpoint) and region come from the usual AWS variables;
    without either, the bucket's region is asked of S3.
    """
    options: dict[str, Any] = {}
    if endpoint:
        url = urlsplit(endpoint if "://" in endpoint else f"https://{endpoint}")
        options.update(endpoint_override=url.netloc, scheme=url.scheme)
    if region:
        options["region"] = region
    elif not endpoint:
        try:
            options["region"] = pafs.resolve_s3_region(bucket)
        except OSError as exc:
            log.warning("cannot resolve the region of bucket %s (%s): set AWS_REGION", bucket, exc)
    return pafs.S3FileSystem(**options)


def table_uri(root: str | Path, table: str) -> str:
    if not _TABLE.match(table):
        raise StoreError(f"refusing table name {table!r}")
    return f"{normalize_root(root)}/{table}"


def read_manifest(root: str | Path) -> dict[str, Any]:
    """The layout manifest of a root: {"format": 1, "tables": {name: {"folders": [...], ...}}}."""
    fs, path = filesystem(normalize_root(root))
    try:
        with fs.open_input_stream(f"{path}/{MANIFEST}") as f:
            return json.loads(f.read().decode())
    except FileNotFoundError as exc:
        raise StoreError(
            f"{root} is not a costlab Parquet layout (no {MANIFEST}): run `costlab export parquet`"
        ) from exc


def record_tables(root: str | Path, tables: Iterable[str]) -> None:
    """Add tables to the root's manifest (created if absent). Called after their files are written."""
    fs, path = filesystem(normalize_root(root))
    try:
        manifest = read_manifest(root)
    except StoreError:
        fs.create_dir(path, recursive=True)
        manifest = {"format": 1, "tables": {}}
    for t in tables:
        p = partitioning(t)
        manifest["tables"][t] = {"folders": list(p.folders), "date_of": p.date_of}
    with fs.open_output_stream(f"{path}/{MANIFEST}") as f:
        f.write(json.dumps(manifest, indent=2, sort_keys=True).encode())


def tables_in(root: str | Path) -> list[str]:
    return sorted(read_manifest(root)["tables"])


# ---------------------------------------------------------------- writing


@cache
def arrow_schema(table: str) -> pa.Schema:
    """The Arrow schema of a table's rows as DuckDB returns them (before partition folders)."""
    conn = duckdb.connect(config=store.DUCKDB_CONFIG)
    try:
        conn.execute("SET TimeZone = 'UTC'")
        select = exp.select(
            *[
                exp.cast(exp.null(), exp.DataType.build(c.duckdb_type, dialect="duckdb")).as_(
                    c.name, quoted=True
                )
                for c in columns_of(table)
            ]
        ).limit(0)
        return conn.sql(select.sql(dialect="duckdb")).to_arrow_table().schema
    finally:
        conn.close()


def conform_batch(batch: pa.RecordBatch, schema: pa.Schema) -> pa.RecordBatch:
    """The batch in the table's column order and types; columns it lacks are NULL."""
    arrays = [
        batch.column(f.name).cast(f.type)
        if f.name in batch.schema.names
        else pa.nulls(batch.num_rows, f.type)
        for f in schema
    ]
    return pa.RecordBatch.from_arrays(arrays, schema=schema)


def _with_folders(batch: pa.RecordBatch, part: Partitioning) -> pa.RecordBatch:
    if part.date_of:
        day = pc.strftime(batch.column(part.date_of), format="%Y-%m-%d")
        batch = pa.RecordBatch.from_arrays(
            [*batch.columns, day], schema=batch.schema.append(pa.field(DATE_DIR, pa.string()))
        )
    for name in part.columns:
        values = batch.column(name)
        if (
            values.null_count
            or not pc.all(pc.match_substring_regex(values, _SAFE_DIR_VALUE)).as_py()
        ):
            raise StoreError(f"{name} values must match {_SAFE_DIR_VALUE} to become folder names")
    return batch


def write_table(
    batches: Iterable[pa.RecordBatch],
    root: str | Path,
    table: str,
    *,
    replace: bool = True,
    tag: str = "part",
) -> int:
    """Write a stream of record batches as the table's partitioned Parquet; returns rows written.

    replace=True empties the table's folder first (a full, idempotent rewrite); replace=False adds
    files named `<tag>-<n>.parquet` (a streamed writer passes a new tag per chunk). Memory stays
    bounded by the batch size: batches are written as they come.
    """
    part = partitioning(table)
    fs, base = filesystem(table_uri(root, table))
    if replace:
        fs.delete_dir_contents(base, missing_dir_ok=True)
    fs.create_dir(base, recursive=True)
    schema = arrow_schema(table)
    out_schema = schema.append(pa.field(DATE_DIR, pa.string())) if part.date_of else schema
    count = 0

    def stream() -> Iterator[pa.RecordBatch]:
        nonlocal count
        for batch in batches:
            if batch.num_rows:
                count += batch.num_rows
                yield _with_folders(conform_batch(batch, schema), part)

    reader = pa.RecordBatchReader.from_batches(out_schema, stream())
    fmt = ds.ParquetFileFormat()
    folders = part.folders
    ds.write_dataset(
        reader,
        base,
        filesystem=fs,
        format=fmt,
        partitioning=ds.partitioning(
            pa.schema([out_schema.field(f) for f in folders]), flavor="hive"
        )
        if folders
        else None,
        basename_template=f"{tag}-{{i}}.parquet",
        existing_data_behavior="overwrite_or_ignore",
        # pyarrow-stubs declare make_write_options() without the **kwargs pyarrow accepts
        file_options=fmt.make_write_options(compression="zstd"),  # type: ignore[call-arg]
        max_partitions=1_000_000,
        max_open_files=512,
        max_rows_per_file=4_000_000,
        min_rows_per_group=64_000,
        max_rows_per_group=1_000_000,
    )
    placeholders = [
        i.path for i in fs.get_file_info(pafs.FileSelector(base)) if i.path.endswith(EMPTY_SUFFIX)
    ]
    if count == 0 and not placeholders and replace:
        # an empty table still gets a file, so readers see its columns
        with fs.open_output_stream(f"{base}/{tag}{EMPTY_SUFFIX}") as f:
            pq.write_table(schema.empty_table(), f)
    elif count:
        for path in placeholders:  # rows arrived: the placeholder would clash with the folders
            fs.delete_file(path)
    return count


def export_parquet(
    conn: duckdb.DuckDBPyConnection,
    root: str | Path,
    *,
    tables: Iterable[str] | None = None,
    batch_rows: int = 1_000_000,
) -> dict[str, int]:
    """Write tables of an open costlab database as the Parquet layout at `root` (replacing them).

    Default: every table of the schema (which also settles any interrupted publish's journal).
    Rows stream from DuckDB in `batch_rows` batches, so memory is bounded by the batch, not the
    table. Returns rows written per table.
    """
    names = list(tables) if tables is not None else sorted(catalogue())
    written: dict[str, int] = {}
    for table in names:
        columns_of(table)  # unknown names fail before anything is written
        cursor = conn.cursor()  # its own result stream, finished or not, per table
        try:
            written[table] = write_table(
                cursor.table(table).to_arrow_reader(batch_rows), root, table
            )
        finally:
            cursor.close()
        log.info("exported %s: %d rows", table, written[table])
    record_tables(root, names)
    if tables is None:  # every table rewritten: no partition is left half-published
        fs, _ = filesystem(normalize_root(root))
        for journal in unfinished_publishes(root):
            fs.delete_file(journal)
    return written


# ---------------------------------------------------------------- reading in DuckDB


def _read_parquet(root: str, table: str) -> exp.Expression:
    folders = _folders(root, table)
    args: list[exp.Expression] = [exp.Literal.string(f"{table_uri(root, table)}/**/*.parquet")]
    args.append(exp.EQ(this=exp.var("union_by_name"), expression=exp.true()))
    if folders:
        args.append(exp.EQ(this=exp.var("hive_partitioning"), expression=exp.true()))
        args.append(exp.EQ(this=exp.var("hive_types_autocast"), expression=exp.false()))
    return exp.Anonymous(this="read_parquet", expressions=args)


def _folders(root: str, table: str) -> list[str]:
    return read_manifest(root)["tables"].get(table, {}).get("folders", [])


def arrow_dataset(root: str | Path, table: str) -> ds.Dataset:
    """A table of the layout as a pyarrow dataset: the schema's columns plus the folder columns.

    Folder values are strings, as DuckDB's `hive_types_autocast = false` reads them. The files are
    those DuckDB's `**/*.parquet` would read, minus hidden ones (`_`, `.`, as Spark skips them).
    """
    root = normalize_root(root)
    fs, base = filesystem(table_uri(root, table))
    folders = _folders(root, table)
    files = [
        info.path
        for info in fs.get_file_info(pafs.FileSelector(base, recursive=True, allow_not_found=True))
        if info.is_file
        and info.base_name.endswith(".parquet")
        and not any(p[:1] in "._" for p in info.path[len(base) :].split("/") if p)
    ]
    if not files:
        raise StoreError(f"{table_uri(root, table)} holds no Parquet files")
    schema = arrow_schema(table)
    for name in folders:
        if name not in schema.names:
            schema = schema.append(pa.field(name, pa.string()))
    hive = (
        ds.partitioning(pa.schema([schema.field(f) for f in folders]), flavor="hive")
        if folders
        else None
    )
    return ds.dataset(
        sorted(files),
        schema=schema,
        format="parquet",
        filesystem=fs,
        partitioning=hive,
        partition_base_dir=base,
    )


def view_sql(
    root: str | Path, table: str, name: str | None = None, *, source: str | None = None
) -> str:
    """CREATE TEMP VIEW <name or table> over its Parquet: schema columns, cast to schema types.

    Built as a sqlglot tree: the path is a quoted literal and names come from the catalogue.
    `source` reads from a relation registered in the connection instead (the S3 path).
    """
    root = normalize_root(root)
    relation = (
        exp.to_table(source, quoted=True) if source else exp.Table(this=_read_parquet(root, table))
    )
    select = exp.select(
        *[
            exp.cast(
                exp.column(c.name, quoted=True), exp.DataType.build(c.duckdb_type, dialect="duckdb")
            ).as_(c.name, quoted=True)
            for c in columns_of(table)
        ]
    ).from_(relation)
    create = exp.Create(
        this=exp.to_table(name or table, quoted=True),
        kind="VIEW",
        replace=True,
        expression=select,
        properties=exp.Properties(expressions=[exp.TemporaryProperty()]),
    )
    return create.sql(dialect="duckdb")


def create_view(
    conn: duckdb.DuckDBPyConnection, root: str, table: str, name: str | None = None
) -> None:
    """A temp view over a table of the layout. Local files: DuckDB's read_parquet. S3: pyarrow's
    S3 filesystem; the dataset is registered in `conn` and DuckDB scans it with projection and
    filter pushdown, so neither httpfs nor any other extension has to be installed."""
    if root.startswith("s3://"):
        source = f"_costlab_s3_{name or table}"
        complete = getattr(conn, "complete", None)  # DuckDB >= 2 refuses register() while a
        if complete is not None:  # result of execute() is unread, as any execute() would end it
            complete()
        conn.register(source, arrow_dataset(root, table))
        conn.execute(view_sql(root, table, name, source=source))
    else:
        conn.execute(view_sql(root, table, name))


def unfinished_publishes(root: str | Path) -> list[str]:
    """Journals of publishes that have not finished: running now, or interrupted (rerun it)."""
    fs, path = filesystem(normalize_root(root))
    infos = fs.get_file_info(pafs.FileSelector(f"{path}/{PUBLISH_DIR}", allow_not_found=True))
    return sorted(i.path for i in infos if i.is_file and i.base_name.startswith(JOURNAL_PREFIX))


def attach_parquet(
    conn: duckdb.DuckDBPyConnection, root: str | Path, *, tables: Iterable[str] | None = None
) -> list[str]:
    """Make the tables of a Parquet layout readable in `conn` under their usual names.

    Temporary views shadow the database's own tables of the same name for this connection only,
    so the unchanged engine (allocate_window, report_by) reads the Parquet in place. Tables the
    engine writes (allocation, unpriced_node_hours, allocation_runs) are left alone unless named
    in `tables`. Returns the names attached.
    """
    root = normalize_root(root)
    present = tables_in(root)
    outputs = {"allocation", "unpriced_node_hours", "allocation_runs"}
    names = list(tables) if tables is not None else [t for t in present if t not in outputs]
    missing = [t for t in names if t not in present]
    if missing:
        raise StoreError(f"{root} holds no table(s) {', '.join(missing)}")
    pending = unfinished_publishes(root)
    if pending:
        log.warning(
            "%s: %d publish(es) did not finish (%s); the partitions they list may be incomplete "
            "until the publish is rerun",
            root,
            len(pending),
            ", ".join(pending[:3]),
        )
    for table in names:
        create_view(conn, root, table)
    return names


RESULT_TABLES = ("allocation", "unpriced_node_hours", "allocation_runs")
_STAGED = "_costlab_parquet_"


def _import_statements(table: str) -> list[str]:
    """DELETE the rows the staged Parquet replaces, then INSERT BY NAME (names from RESULT_TABLES)."""
    staged = exp.to_table(_STAGED + table, quoted=True)
    target = exp.to_table(table, quoted=True)
    if table == "allocation_runs":
        where: exp.Expression = exp.column("run_id").isin(query=exp.select("run_id").from_(staged))
    else:
        runs = exp.select("1").from_(
            exp.to_table(_STAGED + "allocation_runs", quoted=True, alias="r")
        )
        where = exp.Exists(
            this=runs.where(
                exp.and_(
                    exp.column("window_start_ts", table="r")
                    <= exp.column("window_start_ts", table=target.name),
                    exp.column("window_start_ts", table=target.name)
                    < exp.column("window_end_ts", table="r"),
                )
            )
        )
    delete = exp.delete(target, where=where)
    insert = exp.insert(exp.select("*").from_(staged), target)
    insert.set("by_name", True)
    return [delete.sql(dialect="duckdb"), insert.sql(dialect="duckdb")]


def import_results(conn: duckdb.DuckDBPyConnection, root: str | Path) -> dict[str, int]:
    """Load engine output written as Parquet (by the Spark runner) into the database's tables.

    For every run recorded in `<root>/allocation_runs`, the window's rows of `allocation` and
    `unpriced_node_hours` are replaced (delete then insert, one transaction), so dashboards and
    reports read them as if DuckDB had allocated. Returns rows loaded per table.
    """
    root = normalize_root(root)
    present = set(tables_in(root))
    missing = [t for t in RESULT_TABLES if t not in present]
    if missing:
        raise StoreError(f"{root} holds no engine output table(s) {', '.join(missing)}")
    for table in RESULT_TABLES:
        create_view(conn, root, table, name=_STAGED + table)
    loaded: dict[str, int] = {}
    with store.transaction(conn):
        for table in RESULT_TABLES:
            for statement in _import_statements(table):
                conn.execute(statement)
            counted = exp.select(exp.func("count", exp.Star())).from_(
                exp.to_table(_STAGED + table, quoted=True)
            )
            loaded[table] = int(conn.execute(counted.sql(dialect="duckdb")).fetchall()[0][0])
    return loaded
