"""Publish what collectors loaded into the Parquet layout, one partition at a time.

A collector's DuckDB database is the state; the layout (costlab/scale/parquet_layout.py) is a copy
of its raw tables that DuckDB, pyarrow and Spark read in place. `publish` makes the partitions a
window touched equal to the state again, so running it twice, or after a rerun of the
collector, never counts a row twice:

- `gpu_samples`, a (cluster, date) folder: every row of that UTC day and cluster in the state;
- `llm_observations`, a date folder: every observation that started that UTC day;
- `nodes`, `pod_gpu_requests`, `pod_labels`, `namespace_labels`, a cluster folder: the cluster's rows;
- the other raw tables (prices, runs, watermarks, gaps, quarantine...): the whole table.

A partition is replaced as a unit. Its new files are written first under hidden names
(`_<generation>-<n>.parquet.inflight`, which DuckDB's `*.parquet` glob, pyarrow and Spark all skip),
then the old files are deleted and the new ones renamed to `part-<n>.parquet`. A partition the
state no longer has rows for is deleted. Before the first partition is touched, a journal listing
every partition of the publish is written to `<root>/_costlab_publish/`; it is removed at the end.
An interrupted publish therefore leaves its journal behind: readers (`attach_parquet`) warn about
it, and the next publish rewrites the partitions it lists as well, from the state, whatever its
own window.

`publish_changes` is what `costlab collect ... --parquet ROOT` runs: it republishes what changed
since the last publish of the same source to the same root (a cursor in `_costlab_publish/`),
from the runs in `collection_runs` and the moves of the source's watermarks, so data loaded by a
run that crashed before it could publish is published by the next one.

One state database per root: the whole-table copies and the cursor assume a single writer.
"""

from __future__ import annotations

import json
import logging
import re
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.fs as pafs
import pyarrow.parquet as pq
from sqlglot import exp

from costlab import store
from costlab.errors import CostlabError, StoreError
from costlab.scale import parquet_layout as layout
from costlab.timeutil import Window

log = logging.getLogger(__name__)

INFLIGHT = ".inflight"
SAFE_VALUE = r"^[A-Za-z0-9._-]+$"  # as parquet_layout accepts for folder values
DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
CURSOR_PREFIX = "cursor-"
# Step flooring and ceiling in the collectors move a run's reads by up to a step; take an hour.
MARGIN = timedelta(hours=1)
BATCH_ROWS = 1_000_000
ROW_GROUP = 1_000_000  # rows per Parquet row group, as export_parquet writes at most

RAW_TABLES = tuple(t for t in sorted(layout.catalogue()) if t not in layout.RESULT_TABLES)
WHOLE_TABLES = tuple(t for t in RAW_TABLES if not layout.partitioning(t).folders)
CLUSTER_TABLES = ("nodes", "pod_gpu_requests", "pod_labels", "namespace_labels")
# Date-partitioned raw tables -> the query listing the partitions a window holds rows of.
DAY_QUERIES = {
    "gpu_samples": "scale/publish_sample_days",
    "llm_observations": "scale/publish_observation_days",
}
SOURCE_TABLES = {
    "prometheus": ("gpu_samples", *CLUSTER_TABLES, *WHOLE_TABLES),
    "langfuse": ("llm_observations", *WHOLE_TABLES),
}


class PublishError(CostlabError):
    """The layout could not be written (the CLI exits 1)."""


@dataclass(frozen=True, order=True)
class Partition:
    """A table's folder: ((column, value), ...) in folder order; () is the whole table."""

    table: str
    values: tuple[tuple[str, str], ...] = ()

    def __post_init__(self) -> None:
        for name, value in self.values:  # values become folder names: no `/`, nothing odd
            if not re.match(SAFE_VALUE, value) or (
                name == layout.DATE_DIR and not DAY.match(value)
            ):
                raise StoreError(f"{self.table}: {name} value {value!r} cannot be a folder name")

    def folder(self, base: str) -> str:
        return "/".join([base, *(f"{k}={v}" for k, v in self.values)])

    def to_json(self) -> dict[str, Any]:
        return {"table": self.table, "values": dict(self.values)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Partition:
        table = str(data["table"])
        layout.columns_of(table)  # a journal names only known tables
        folders = layout.partitioning(table).folders
        values = data.get("values", {})
        if sorted(values) != sorted(folders):
            raise StoreError(f"journal partition {data} does not match the layout of {table}")
        return cls(table, tuple((k, str(values[k])) for k in folders))


@dataclass
class PublishReport:
    root: str
    rows: dict[str, int] = field(default_factory=dict)  # rows written per table
    replaced: int = 0  # partitions written
    deleted: int = 0  # partitions removed: the state has no rows for them any more
    repaired: int = 0  # partitions listed by interrupted publishes, rewritten too
    windows: list[Window | None] = field(default_factory=list)

    def summary(self) -> str:
        repaired = (
            f", repaired {self.repaired} from an interrupted publish" if self.repaired else ""
        )
        return (
            f"published {sum(self.rows.values()):,} rows of {len(self.rows)} tables to {self.root}: "
            f"{self.replaced} partition(s) replaced, {self.deleted} deleted{repaired}"
        )


# ------------------------------------------------------------------------------------ publishing


def publish(
    conn: duckdb.DuckDBPyConnection,
    root: str | Path,
    *,
    window: Window | Sequence[Window] | None,
    clusters: Iterable[str] | None = None,
    tables: Iterable[str] | None = None,
) -> PublishReport:
    """Replace the layout's partitions a window touched with the state's rows (see module doc).

    window: one window or several (their touched partitions are united); None = every partition.
    clusters: only these clusters' partitions (default: every cluster with rows in the window).
    tables: raw tables to publish (default: all of them; see SOURCE_TABLES).
    """
    root = layout.normalize_root(root)
    windows: list[Window | None] = (
        [window] if window is None or isinstance(window, Window) else list(window)
    )
    names = list(tables) if tables is not None else list(RAW_TABLES)
    for table in names:
        if table not in RAW_TABLES:
            raise StoreError(f"{table!r} is not a raw table costlab publishes")
    fs, path = layout.filesystem(root)
    report = PublishReport(root, {t: 0 for t in names}, windows=windows)
    scope = sorted(set(clusters)) if clusters is not None else _touched_clusters(conn, windows)
    planned = _plan(conn, fs, root, names, windows, scope)
    journals = layout.unfinished_publishes(root)
    repairs = _read_journals(fs, journals)
    report.repaired = len(set(repairs) - set(planned))
    partitions = sorted(set(planned) | set(repairs))
    generation = uuid.uuid4().hex[:12]
    journal = _write_journal(fs, path, generation, partitions)
    for part in partitions:
        rows, outcome = _replace(conn, fs, root, part, generation)
        report.rows[part.table] = report.rows.get(part.table, 0) + rows
        report.replaced += outcome == "replaced"
        report.deleted += outcome == "deleted"
    touched = sorted({p.table for p in partitions})
    for table in touched:
        if layout.partitioning(table).folders:
            _settle(fs, layout.filesystem(layout.table_uri(root, table))[1], table)
    layout.record_tables(root, touched)
    for done in [*journals, journal]:
        fs.delete_file(done)
    log.info("%s", report.summary())
    return report


def _touched_clusters(conn: duckdb.DuckDBPyConnection, windows: list[Window | None]) -> list[str]:
    found: set[str] = set()
    for w in windows:
        rows = conn.execute(store.load_sql("scale/publish_touched_clusters"), _bounds(w))
        found.update(r[0] for r in rows.fetchall())
    return sorted(found)


def _bounds(window: Window | None) -> dict[str, datetime | None]:
    return {"start": window.start if window else None, "end": window.end if window else None}


def _plan(
    conn: duckdb.DuckDBPyConnection,
    fs: pafs.FileSystem,
    root: str,
    tables: list[str],
    windows: list[Window | None],
    scope: list[str],
) -> list[Partition]:
    """The partitions to rewrite: those with rows in a window, and those of the layout in a window's
    scope (a cluster in scope, a date in the window) that the state has no rows for any more."""
    out: set[Partition] = set()
    for table in tables:
        folders = layout.partitioning(table).folders
        if not folders:
            out.add(Partition(table))
        elif folders == ("cluster",):
            out.update(Partition(table, (("cluster", c),)) for c in scope)
        elif table in DAY_QUERIES and folders[-1] == layout.DATE_DIR:
            base = layout.filesystem(layout.table_uri(root, table))[1]
            prefixes = [(("cluster", c),) for c in scope] if "cluster" in folders else [()]
            for w in windows:
                params: dict[str, Any] = _bounds(w)
                if "cluster" in folders:
                    params["clusters"] = scope
                rows = conn.execute(store.load_sql(DAY_QUERIES[table]), params).fetchall()
                out.update(Partition(table, tuple(zip(folders, row, strict=True))) for row in rows)
                for prefix in prefixes:
                    for day in _days_present(fs, Partition(table, prefix).folder(base)):
                        if _in_window(day, w):
                            out.add(Partition(table, (*prefix, (layout.DATE_DIR, day))))
        else:
            raise StoreError(f"no publish rule for {table} partitioned by {folders}")
    return sorted(out)


def _days_present(fs: pafs.FileSystem, folder: str) -> list[str]:
    infos = fs.get_file_info(pafs.FileSelector(folder, allow_not_found=True))
    prefix = f"{layout.DATE_DIR}="
    return [
        i.base_name[len(prefix) :]
        for i in infos
        if i.type == pafs.FileType.Directory and i.base_name.startswith(prefix)
    ]


def _in_window(day: str, window: Window | None) -> bool:
    if window is None:
        return True
    last = window.end - timedelta(microseconds=1)
    return f"{window.start:%Y-%m-%d}" <= day <= f"{last:%Y-%m-%d}"


def _rows_sql(table: str) -> str:
    """SELECT a partition's rows from the state, sorted: the file's columns (folder columns are in
    the path), the folder values and the UTC day bound as $parameters. Names come from the
    catalogue."""
    part = layout.partitioning(table)
    cols = [c.name for c in layout.columns_of(table) if c.name not in part.columns]
    select = exp.select(*[exp.column(c, quoted=True) for c in cols]).from_(
        exp.to_table(table, quoted=True)
    )
    conds: list[exp.Expression] = [
        exp.column(c, quoted=True).eq(exp.Placeholder(this=c)) for c in part.columns
    ]
    if part.date_of:
        ts = exp.column(part.date_of, quoted=True)
        conds += [ts >= exp.Placeholder(this="day_start"), ts < exp.Placeholder(this="day_end")]
    if conds:
        select = select.where(exp.and_(*conds))
    # A total order (every column, the timestamp first where it leads the schema): the same rows
    # give byte-identical files (S3 ETags), and row groups cover short time ranges.
    return select.order_by(*[exp.column(c, quoted=True) for c in cols]).sql(dialect="duckdb")


def _params(part: Partition) -> dict[str, Any]:
    params: dict[str, Any] = {}
    for name, value in part.values:
        if name == layout.DATE_DIR:
            day = datetime.strptime(value, "%Y-%m-%d").replace(tzinfo=UTC)
            params.update(day_start=day, day_end=day + timedelta(days=1))
        else:
            params[name] = value
    return params


def _file_schema(table: str) -> pa.Schema:
    schema = layout.arrow_schema(table)
    for name in layout.partitioning(table).columns:
        schema = schema.remove(schema.get_field_index(name))
    return schema


def _replace(
    conn: duckdb.DuckDBPyConnection,
    fs: pafs.FileSystem,
    root: str,
    part: Partition,
    generation: str,
) -> tuple[int, str]:
    """Write the partition's new files (hidden), then swap them in.

    Returns rows written and "replaced", "deleted" (no rows left) or "absent" (none before either).
    """
    folder = part.folder(layout.filesystem(layout.table_uri(root, part.table))[1])
    schema = _file_schema(part.table)
    cursor = conn.cursor()
    try:
        reader = cursor.sql(_rows_sql(part.table), params=_params(part)).to_arrow_reader(BATCH_ROWS)
        rows = _write_hidden(fs, folder, reader, schema, generation)
    finally:
        cursor.close()
    if rows == 0 and not part.values:  # an empty table is one empty file, so readers see columns
        fs.create_dir(folder, recursive=True)
        with fs.open_output_stream(f"{folder}/_{generation}{layout.EMPTY_SUFFIX}{INFLIGHT}") as f:
            pq.write_table(layout.arrow_schema(part.table).empty_table(), f)
    new, removed = _delete_old(fs, folder, generation)
    _rename_new(fs, folder, generation, new)
    if new:
        return rows, "replaced"
    _delete_folder(fs, folder)
    return rows, "deleted" if removed else "absent"


def _write_hidden(
    fs: pafs.FileSystem,
    folder: str,
    reader: pa.RecordBatchReader,
    schema: pa.Schema,
    generation: str,
) -> int:
    count = 0

    def stream() -> Iterator[pa.RecordBatch]:
        nonlocal count
        for batch in reader:
            if batch.num_rows:
                count += batch.num_rows
                yield layout.conform_batch(batch, schema)

    fmt = ds.ParquetFileFormat()
    ds.write_dataset(
        pa.RecordBatchReader.from_batches(schema, stream()),
        folder,
        filesystem=fs,
        format=fmt,
        basename_template=f"_{generation}-{{i}}.parquet{INFLIGHT}",
        use_threads=False,  # rows in the order the state returns them
        existing_data_behavior="overwrite_or_ignore",
        # pyarrow-stubs declare make_write_options() without the **kwargs pyarrow accepts
        file_options=fmt.make_write_options(compression="zstd"),  # type: ignore[call-arg]
        max_rows_per_file=4_000_000,
        # row groups of exactly ROW_GROUP rows (the last one shorter), whatever the sizes of the
        # batches DuckDB streams, so that the files are byte-identical
        min_rows_per_group=ROW_GROUP,
        max_rows_per_group=ROW_GROUP,
    )
    return count


def _delete_old(fs: pafs.FileSystem, folder: str, generation: str) -> tuple[list[str], int]:
    """Delete every file of the folder but this generation's hidden ones.

    Returns those, and how many files were deleted."""
    mine: list[str] = []
    removed = 0
    for info in fs.get_file_info(pafs.FileSelector(folder, allow_not_found=True)):
        if not info.is_file:
            continue
        if info.base_name.startswith(f"_{generation}") and info.base_name.endswith(INFLIGHT):
            mine.append(info.path)
        else:
            fs.delete_file(info.path)
            removed += 1
    return sorted(mine), removed


def _rename_new(fs: pafs.FileSystem, folder: str, generation: str, new: list[str]) -> None:
    """`_<generation>-0.parquet.inflight` -> `part-0.parquet` (same names every time)."""
    for path in new:
        name = path.rsplit("/", 1)[1].removeprefix(f"_{generation}").removesuffix(INFLIGHT)
        fs.move(path, f"{folder}/part{name}")


def _delete_folder(fs: pafs.FileSystem, folder: str) -> None:
    """Remove an emptied partition folder, and its parent partition folder if that is empty too."""
    if fs.get_file_info(folder).type == pafs.FileType.Directory:
        fs.delete_dir(folder)
    parent = folder.rsplit("/", 1)[0]
    if (
        "=" in parent.rsplit("/", 1)[1]
        and fs.get_file_info(parent).type == pafs.FileType.Directory
        and not fs.get_file_info(pafs.FileSelector(parent))
    ):
        fs.delete_dir(parent)


def _settle(fs: pafs.FileSystem, base: str, table: str) -> None:
    """A partitioned table's folder holds partitions, or else the one empty placeholder file."""
    infos = fs.get_file_info(pafs.FileSelector(base, allow_not_found=True))
    folders = [i for i in infos if i.type == pafs.FileType.Directory]
    placeholders = [i.path for i in infos if i.is_file and i.path.endswith(layout.EMPTY_SUFFIX)]
    if folders:
        for path in placeholders:
            fs.delete_file(path)
    elif not placeholders:
        fs.create_dir(base, recursive=True)
        with fs.open_output_stream(f"{base}/part{layout.EMPTY_SUFFIX}") as f:
            pq.write_table(layout.arrow_schema(table).empty_table(), f)


# ------------------------------------------------------------------------------------ journals


def _write_journal(
    fs: pafs.FileSystem, path: str, generation: str, partitions: list[Partition]
) -> str:
    target = f"{path}/{layout.PUBLISH_DIR}/{layout.JOURNAL_PREFIX}{generation}.json"
    fs.create_dir(f"{path}/{layout.PUBLISH_DIR}", recursive=True)
    body = {
        "generation": generation,
        "started_ts": datetime.now(UTC).isoformat(),
        "partitions": [p.to_json() for p in partitions],
    }
    with fs.open_output_stream(target) as f:
        f.write(json.dumps(body, indent=1, sort_keys=True).encode())
    return target


def _read_journals(fs: pafs.FileSystem, journals: list[str]) -> list[Partition]:
    found: list[Partition] = []
    for journal in journals:
        with fs.open_input_stream(journal) as f:
            data = json.loads(f.read().decode())
        log.warning(
            "repairing the %d partition(s) of interrupted publish %s",
            len(data["partitions"]),
            journal,
        )
        found.extend(Partition.from_json(p) for p in data["partitions"])
    return found


# ------------------------------------------------------------------------------------ cursors


@dataclass(frozen=True)
class Cursor:
    """What the last publish of a source saw: when it read the state, and the watermarks."""

    published_ts: datetime
    watermarks: dict[str, datetime]


def read_cursor(root: str | Path, source: str) -> Cursor | None:
    fs, path = layout.filesystem(layout.normalize_root(root))
    try:
        with fs.open_input_stream(_cursor_path(path, source)) as f:
            data = json.loads(f.read().decode())
    except FileNotFoundError:
        return None
    return Cursor(
        datetime.fromisoformat(data["published_ts"]),
        {k: datetime.fromisoformat(v) for k, v in data["watermarks"].items()},
    )


def _write_cursor(root: str, source: str, cursor: Cursor) -> None:
    fs, path = layout.filesystem(root)
    fs.create_dir(f"{path}/{layout.PUBLISH_DIR}", recursive=True)
    body = {
        "source": source,
        "published_ts": cursor.published_ts.isoformat(),
        "watermarks": {k: v.isoformat() for k, v in sorted(cursor.watermarks.items())},
    }
    with fs.open_output_stream(_cursor_path(path, source)) as f:
        f.write(json.dumps(body, indent=1, sort_keys=True).encode())


def _cursor_path(path: str, source: str) -> str:
    if source not in SOURCE_TABLES:
        raise StoreError(f"no publish rule for source {source!r}")
    return f"{path}/{layout.PUBLISH_DIR}/{CURSOR_PREFIX}{source}.json"


def changed_windows(
    conn: duckdb.DuckDBPyConnection,
    source: str,
    cursor: Cursor | None,
    *,
    now: datetime,
    reach: Callable[[], tuple[timedelta, timedelta]] | None = None,
) -> list[Window] | None:
    """The windows a source's runs may have written since `cursor` (None: everything).

    A run with a window (a backfill; every LangFuse run) wrote inside it. An incremental
    Prometheus run records no window: it re-read each series from its watermark minus `lag`, or
    `initial_lookback` before it started for a series it had never read. `reach` returns those
    two settings (default: the Prometheus collector's). Every window is widened by MARGIN.
    """
    if cursor is None:
        return None
    runs = conn.execute(
        store.load_sql("scale/publish_runs_since"),
        {"source": source, "since": cursor.published_ts, "now": now},
    ).fetchall()
    windows = [Window(ws - MARGIN, we + MARGIN) for _, _, ws, we in runs if ws is not None]
    incremental = [started for _, started, ws, _ in runs if ws is None]
    if incremental:
        lag, initial = (reach or _prometheus_reach)()
        marks = dict(
            conn.execute(store.load_sql("scale/publish_watermarks"), {"source": source}).fetchall()
        )
        starts = [
            min(incremental) - initial
            if cursor.watermarks.get(series) is None
            else cursor.watermarks[series] - lag
            for series, mark in marks.items()
            if cursor.watermarks.get(series) != mark
        ]
        if starts:
            windows.append(Window(min(starts) - MARGIN, now + MARGIN))
    return windows


def _prometheus_reach() -> tuple[timedelta, timedelta]:
    from costlab.collect.prometheus import PrometheusSettings

    settings = PrometheusSettings()
    return settings.lag, settings.initial_lookback


def publish_changes(
    conn: duckdb.DuckDBPyConnection,
    root: str | Path,
    source: str,
    *,
    now: datetime | None = None,
    reach: Callable[[], tuple[timedelta, timedelta]] | None = None,
) -> PublishReport:
    """Publish the source's tables where its runs wrote since the last publish to `root`.

    The first publish of a source to a root writes every partition of its tables. The cursor
    moves only when the publish finished, so a failed publish is covered by the next one.
    """
    root = layout.normalize_root(root)
    if source not in SOURCE_TABLES:
        raise StoreError(f"no publish rule for source {source!r}")
    now = now or datetime.now(UTC)
    marks = dict(
        conn.execute(store.load_sql("scale/publish_watermarks"), {"source": source}).fetchall()
    )
    windows = changed_windows(conn, source, read_cursor(root, source), now=now, reach=reach)
    report = publish(conn, root, window=windows, tables=SOURCE_TABLES[source])
    _write_cursor(root, source, Cursor(now, marks))
    return report


def collect_and_publish(db: Path, root: str, source: str, collect: Callable[[], Any]) -> Any:
    """`costlab collect <source> --parquet ROOT`: run the collector, then publish what changed."""
    from rich.console import Group

    root = layout.normalize_root(root)  # a bad root fails before anything is collected
    shown = collect()
    conn = store.connect(db)
    try:
        report = publish_changes(conn, root, source)
    except OSError as exc:  # storage errors from pyarrow (S3 denied, disk full)
        raise PublishError(
            f"collected, but publishing to {root} failed: {exc}. The next run with --parquet "
            "publishes what this one loaded."
        ) from exc
    finally:
        conn.close()
    return Group(shown, report.summary()) if shown is not None else report.summary()
