"""FOCUS export: the allocation of a report period as FinOps Open Cost and Usage Specification
(FOCUS 1.1) rows, written as CSV and Parquet so it joins other FinOps tools' cost data.

The rows come from sql/report/focus_allocation.sql (daily grain per node x namespace x team x
model, idle as its own rows). Provider strings are settings (env prefix COSTLAB_FOCUS_), because
costlab cannot know the AWS billing account. Money columns are DECIMAL(18,6) in Parquet and plain
decimals with 6 places in CSV; timestamps are UTC, ISO 8601 with a trailing Z in CSV.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
from pydantic_settings import BaseSettings, SettingsConfigDict

from costlab.config import settings_for
from costlab.report.periods import Period
from costlab.store import load_sql

FOCUS_VERSION = "1.1"
CSV_DATETIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


class FocusSettings(BaseSettings):
    """Provider strings for the FOCUS columns costlab cannot read from the cluster."""

    model_config = SettingsConfigDict(env_prefix="COSTLAB_FOCUS_", extra="ignore")

    billing_account_id: str = "unknown"
    billing_account_name: str | None = None
    provider_name: str = "AWS"
    publisher_name: str = "AWS"
    invoice_issuer_name: str = "AWS"
    service_name: str = "Amazon Elastic Compute Cloud"
    service_category: str = "Compute"
    service_subcategory: str = "Virtual Machines"


def focus_table(
    conn: duckdb.DuckDBPyConnection, period: Period, settings: FocusSettings | None = None
) -> pa.Table:
    """The FOCUS rows of `period` as an Arrow table (decimals and UTC timestamps kept typed)."""
    settings = settings or settings_for(FocusSettings, "focus")
    params = {
        "start": period.window.start,
        "end": period.window.end,
        **{k: v for k, v in settings.model_dump().items()},
    }
    return conn.sql(load_sql("report/focus_allocation"), params=params).to_arrow_table()


def write_focus(table: pa.Table, csv_path: Path, parquet_path: Path) -> None:
    """Write the same rows as Parquet (typed) and CSV (ISO-8601 Z timestamps, exact decimals)."""
    pq.write_table(table, parquet_path, compression="zstd")
    frame = pl.from_arrow(table)
    assert isinstance(frame, pl.DataFrame)
    frame.write_csv(csv_path, datetime_format=CSV_DATETIME_FORMAT)
