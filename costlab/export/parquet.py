"""`costlab export parquet`: the database's tables as the Parquet layout (folder or s3://)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from costlab import store
from costlab.scale import parquet_layout as layout


@dataclass(frozen=True)
class ExportReport:
    root: str
    rows: dict[str, int]


def export_database(db: Path, out: str, *, tables: list[str] | None = None) -> ExportReport:
    """Write the tables of database `db` (default: all) as the Parquet layout at `out` (folder or s3://)."""
    conn = store.connect(db, read_only=True)
    try:
        rows = layout.export_parquet(conn, out, tables=tables)
    finally:
        conn.close()
    return ExportReport(layout.normalize_root(out), rows)
