"""The write side every collector (and the demo) shares: validate, quarantine, upsert, book-keep.

A loader takes a polars frame shaped like its table, rejects rows that would corrupt sums (NaN,
negative, missing key fields) into `quarantine` with the reason, and upserts the rest by the
table's natural key, so loading the same records twice leaves the table unchanged.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime

import duckdb
import polars as pl

from costlab import store
from costlab.redact import redact_text
from costlab.timeutil import Window

log = logging.getLogger(__name__)

# Per table: columns that must be present and non-null, and numeric columns that must be finite
# and >= 0 when present. Everything else is optional.
REQUIRED: dict[str, tuple[str, ...]] = {
    "gpu_samples": ("ts", "cluster", "node", "gpu_index", "gpu_uuid"),
    "nodes": (
        "cluster",
        "node",
        "start_ts",
        "instance_type",
        "capacity_type",
        "region",
        "gpu_count",
    ),
    "pod_gpu_requests": (
        "cluster",
        "namespace",
        "pod",
        "gpu_resource",
        "start_ts",
        "node",
        "quantity",
    ),
    "pod_labels": ("cluster", "namespace", "pod", "key", "value"),
    "namespace_labels": ("cluster", "namespace", "key", "value"),
    "prices": (
        "instance_type",
        "region",
        "capacity_type",
        "source",
        "effective_from",
        "usd_micros_per_hour",
    ),
    "llm_observations": ("observation_id", "trace_id", "start_ts"),
}
NON_NEGATIVE: dict[str, tuple[str, ...]] = {
    "gpu_samples": (
        "util_pct",
        "fb_used_mib",
        "fb_free_mib",
        "power_w",
        "temp_c",
        "engine_active_ratio",
    ),
    "nodes": ("gpu_count",),
    "pod_gpu_requests": ("quantity",),
    "prices": ("usd_micros_per_hour",),
    "llm_observations": ("input_tokens", "output_tokens", "total_tokens", "latency_ms"),
}
# Interval tables: an end before its start is bad input.
INTERVALS: dict[str, tuple[str, str]] = {
    "nodes": ("start_ts", "end_ts"),
    "pod_gpu_requests": ("start_ts", "end_ts"),
}


@dataclass
class LoadReport:
    table: str
    loaded: int = 0
    quarantined: int = 0
    reasons: dict[str, int] = field(default_factory=dict)


def _violations(frame: pl.DataFrame, table: str) -> pl.Expr:
    """A string expression: the first reason a row is bad, or null when it is fine."""
    checks: list[tuple[pl.Expr, str]] = []
    for col in REQUIRED.get(table, ()):
        if col not in frame.columns:
            raise store.StoreError(f"{table}: records lack required column {col!r}")
        checks.append((pl.col(col).is_null(), f"missing {col}"))
    for col in NON_NEGATIVE.get(table, ()):
        if col not in frame.columns:
            continue
        dtype = frame.schema[col]
        if dtype.is_float():
            checks.append((pl.col(col).is_nan() | pl.col(col).is_infinite(), f"{col} is NaN/inf"))
        if dtype.is_numeric():
            checks.append((pl.col(col) < 0, f"{col} is negative"))
    if table in INTERVALS:
        start, end = INTERVALS[table]
        if end in frame.columns:
            checks.append(
                (
                    pl.col(end).is_not_null() & (pl.col(end) <= pl.col(start)),
                    f"{end} not after {start}",
                )
            )
    expr: pl.Expr = pl.lit(None, dtype=pl.String)
    for cond, reason in reversed(checks):
        expr = pl.when(cond.fill_null(False)).then(pl.lit(reason)).otherwise(expr)
    return expr


def load(
    conn: duckdb.DuckDBPyConnection,
    table: str,
    frame: pl.DataFrame,
    *,
    run_id: str | None = None,
    append: bool = False,
) -> LoadReport:
    """Validate and upsert `frame` into `table`; bad rows go to `quarantine`. Not transactional
    by itself: callers wrap a chunk (rows + watermark) in `store.transaction`.

    `append=True` inserts without looking for rows to replace: only for a caller that knows no
    stored row has the key of any row in `frame` (e.g. samples newer than everything stored), so
    the result is the same as an upsert."""
    good, report = validate(conn, table, frame, run_id=run_id)
    report.loaded = append_rows(conn, table, good) if append else upsert_rows(conn, table, good)
    return report


def validate(
    conn: duckdb.DuckDBPyConnection, table: str, frame: pl.DataFrame, *, run_id: str | None = None
) -> tuple[pl.DataFrame, LoadReport]:
    """The rows of `frame` fit to load, one per key (the last wins), and a report; bad rows are
    written to `quarantine` with their reason."""
    report = LoadReport(table)
    if frame.height == 0:
        return frame, report
    checked = frame.with_columns(_violations(frame, table).alias("_reason"))
    bad = checked.filter(pl.col("_reason").is_not_null())
    good = checked.filter(pl.col("_reason").is_null()).drop("_reason")
    if bad.height:
        report.quarantined = bad.height
        report.reasons = dict(bad.group_by("_reason").len().iter_rows())
        payload = (
            bad.drop("_reason")
            .select(
                pl.struct(pl.all()).map_elements(
                    lambda s: json.dumps(s, default=str), return_dtype=pl.String
                )
            )
            .to_series()
        )
        quarantined = pl.DataFrame(
            {
                "run_id": [run_id] * bad.height,
                "table_name": [table] * bad.height,
                "reason": bad["_reason"],
                "payload": payload,
                "recorded_ts": [datetime.now(UTC)] * bad.height,
            }
        )
        conn.register("_costlab_quarantine", quarantined.to_arrow())
        try:
            conn.execute(
                "INSERT INTO quarantine (run_id, table_name, reason, payload, recorded_ts) "
                "SELECT run_id, table_name, reason, payload, recorded_ts FROM _costlab_quarantine"
            )
        finally:
            conn.unregister("_costlab_quarantine")
        log.warning("%s: quarantined %d row(s): %s", table, bad.height, report.reasons)
    # Key columns the records leave out take the table default, the same for every row.
    keys = [c for c in store.primary_key(conn, table) if c in good.columns]
    if keys:
        good = good.unique(subset=keys, keep="last", maintain_order=True)
    return good, report


def upsert_rows(conn: duckdb.DuckDBPyConnection, table: str, good: pl.DataFrame) -> int:
    """Insert validated rows, replacing stored rows with the same key."""
    return store.upsert(conn, table, good.to_arrow()) if good.height else 0


def append_rows(conn: duckdb.DuckDBPyConnection, table: str, good: pl.DataFrame) -> int:
    """Insert validated rows that have no stored counterpart (see `load(append=True)`); a row
    whose key is stored after all makes the insert fail rather than duplicate it."""
    if good.height == 0:
        return 0
    known = set(store.table_columns(conn, table))  # raises for a table that does not exist
    unknown = [c for c in good.columns if c not in known]
    if unknown:
        raise store.StoreError(f"table {table} has no column(s) {', '.join(unknown)}")
    cols = ", ".join(f'"{c}"' for c in good.columns)  # names from the catalogue only
    conn.register("_costlab_appended", good.to_arrow())
    try:
        conn.execute(f'INSERT INTO "{table}" ({cols}) SELECT {cols} FROM _costlab_appended')
    finally:
        conn.unregister("_costlab_appended")
    return good.height


def set_watermark(
    conn: duckdb.DuckDBPyConnection, source: str, series: str, until: datetime
) -> None:
    """Move a watermark forward only: a replayed older chunk never moves it back."""
    conn.execute(
        load_watermark_sql(),
        {"source": source, "series": series, "until": until, "now": datetime.now(UTC)},
    )


def load_watermark_sql() -> str:
    return store.load_sql("meta/set_watermark")


def get_watermark(conn: duckdb.DuckDBPyConnection, source: str, series: str) -> datetime | None:
    # fetchall, not fetchone: a half-read result would block the next conn.sql() on this connection
    rows = conn.execute(
        "SELECT loaded_until_ts FROM watermarks WHERE source = $s AND series = $r",
        {"s": source, "r": series},
    ).fetchall()
    return rows[0][0] if rows else None


def record_gap(
    conn: duckdb.DuckDBPyConnection,
    source: str,
    series: str,
    gap: Window,
    kind: str,
    run_id: str | None,
) -> None:
    conn.execute(
        "INSERT OR REPLACE INTO collection_gaps VALUES ($source, $series, $start, $end, $kind, $run)",
        {
            "source": source,
            "series": series,
            "start": gap.start,
            "end": gap.end,
            "kind": kind,
            "run": run_id,
        },
    )


@dataclass
class CollectionRun:
    run_id: str
    source: str
    reports: list[LoadReport] = field(default_factory=list)

    @property
    def loaded(self) -> int:
        return sum(r.loaded for r in self.reports)

    @property
    def quarantined(self) -> int:
        return sum(r.quarantined for r in self.reports)


@contextmanager
def collection_run(
    conn: duckdb.DuckDBPyConnection, source: str, window: Window | None = None
) -> Iterator[CollectionRun]:
    """Book a run in `collection_runs`: 'running' at start, 'ok' or 'failed' (with why) at the end."""
    run = CollectionRun(run_id=f"{source}-{uuid.uuid4().hex[:12]}", source=source)
    conn.execute(
        "INSERT INTO collection_runs "
        "(run_id, source, started_ts, window_start_ts, window_end_ts, status, pid, host) "
        "VALUES ($id, $source, $now, $ws, $we, 'running', $pid, $host)",
        {
            **store.run_owner(),
            "id": run.run_id,
            "source": source,
            "now": datetime.now(UTC),
            "ws": window.start if window else None,
            "we": window.end if window else None,
        },
    )
    try:
        yield run
    except BaseException as exc:
        # masked before the cut, so a cut cannot leave half a password unrecognised
        _finish(conn, run, "failed", redact_text(f"{type(exc).__name__}: {exc}")[:500])
        raise
    else:
        _finish(conn, run, "partial" if run.quarantined else "ok", None)


def _finish(
    conn: duckdb.DuckDBPyConnection, run: CollectionRun, status: str, message: str | None
) -> None:
    conn.execute(
        "UPDATE collection_runs SET finished_ts = $now, status = $status, rows_loaded = $loaded, "
        "rows_quarantined = $q, message = $msg WHERE run_id = $id",
        {
            "now": datetime.now(UTC),
            "status": status,
            "loaded": run.loaded,
            "q": run.quarantined,
            "msg": message,
            "id": run.run_id,
        },
    )
