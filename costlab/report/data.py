"""Everything a batch report shows, read from the database with sql/report/batch_*.sql.

Money stays integer micro-dollars here; rendering turns it into exact decimals. Ratios
(efficiency, idle share, trend) are floats.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import duckdb

from costlab.allocate.tokens import token_rates
from costlab.report.periods import Period
from costlab.store import load_sql

DIMENSIONS = ("team", "cluster", "nodepool", "gpu_model", "capacity_type", "instance_type")
TOP_IDLE_NODES = 10


@dataclass(frozen=True)
class Summary:
    total_usd_micros: int
    idle_usd_micros: int
    unallocated_usd_micros: int
    gpu_hours: float
    requested_gpu_hours: float
    used_gpu_hours: float | None
    measured_gpu_hours: float
    idle_gpu_hours: float
    hours: int
    nodes: int
    first_ts: datetime | None
    last_ts: datetime | None

    @property
    def efficiency(self) -> float | None:
        """Used over requested GPU-hours, as `costlab allocate` computes it per tenant."""
        if self.used_gpu_hours is None or self.requested_gpu_hours <= 0:
            return None
        return self.used_gpu_hours / self.requested_gpu_hours

    @property
    def utilisation(self) -> float | None:
        """Used over all paid GPU-hours (requested + idle)."""
        if self.used_gpu_hours is None or self.gpu_hours <= 0:
            return None
        return self.used_gpu_hours / self.gpu_hours

    @property
    def idle_ratio(self) -> float | None:
        return None if self.total_usd_micros <= 0 else self.idle_usd_micros / self.total_usd_micros


@dataclass(frozen=True)
class DimRow:
    key: str
    gpu_hours: float
    requested_gpu_hours: float
    used_gpu_hours: float | None
    idle_gpu_hours: float
    idle_usd_micros: int
    cost_usd_micros: int

    @property
    def efficiency(self) -> float | None:
        if self.used_gpu_hours is None or self.requested_gpu_hours <= 0:
            return None
        return self.used_gpu_hours / self.requested_gpu_hours


@dataclass(frozen=True)
class DayRow:
    day: Any
    allocated_usd_micros: int
    idle_usd_micros: int
    gpu_hours: float
    used_gpu_hours: float | None


@dataclass(frozen=True)
class TokenRow:
    model: str
    gpu_cost_usd_micros: int
    input_tokens: int
    output_tokens: int
    requests: int
    usd_per_1m_tokens: float | None
    list_usd_per_1m_tokens: float | None


@dataclass(frozen=True)
class IdleNodeRow:
    cluster: str
    nodepool: str
    node: str
    instance_type: str
    idle_gpu_hours: float
    idle_usd_micros: int
    idle_ratio: float | None


@dataclass(frozen=True)
class SavingRow:
    strategy: str
    baseline_usd_micros: int
    simulated_usd_micros: int
    savings_usd_micros: int
    savings_ratio: float
    savings_per_month_usd_micros: int
    risk: str


@dataclass
class Savings:
    """The simulator section: rows when it ran, else why not (`available` False)."""

    available: bool
    note: str
    rows: list[SavingRow] = field(default_factory=list)


@dataclass
class ReportData:
    period: Period
    previous: Period
    summary: Summary
    previous_summary: Summary
    by: dict[str, list[DimRow]]
    daily: list[DayRow]
    tokens: list[TokenRow]
    idle_nodes: list[IdleNodeRow]
    savings: Savings

    @property
    def period_hours(self) -> int:
        return round(self.period.window.hours)

    @property
    def complete(self) -> bool:
        return self.summary.hours >= self.period_hours

    @property
    def trend_ratio(self) -> float | None:
        """Change of total cost against the previous period (None when it had no cost)."""
        prev = self.previous_summary.total_usd_micros
        if prev <= 0:
            return None
        return (self.summary.total_usd_micros - prev) / prev


def _params(period: Period) -> dict[str, Any]:
    return {"start": period.window.start, "end": period.window.end}


def coverage(conn: duckdb.DuckDBPyConnection) -> tuple[datetime | None, datetime | None]:
    row = conn.execute(load_sql("report/batch_coverage")).fetchone()
    assert row is not None  # an aggregate without GROUP BY returns exactly one row
    first, last, _ = row
    return first, last


def summary(conn: duckdb.DuckDBPyConnection, period: Period) -> Summary:
    r = conn.execute(load_sql("report/batch_summary"), _params(period)).fetchone()
    assert r is not None  # an aggregate without GROUP BY returns exactly one row
    return Summary(
        int(r[0]),
        int(r[1]),
        int(r[2]),
        float(r[3]),
        float(r[4]),
        None if r[5] is None else float(r[5]),
        float(r[6]),
        float(r[7]),
        int(r[8]),
        int(r[9]),
        r[10],
        r[11],
    )


def by_dimension(conn: duckdb.DuckDBPyConnection, period: Period, dim: str) -> list[DimRow]:
    if dim not in DIMENSIONS:
        raise ValueError(f"unknown report dimension {dim!r}; one of {', '.join(DIMENSIONS)}")
    rows = conn.execute(
        load_sql("report/batch_by_dimension"), {**_params(period), "dim": dim}
    ).fetchall()
    return [
        DimRow(
            r[0],
            float(r[1]),
            float(r[2]),
            None if r[3] is None else float(r[3]),
            float(r[4]),
            int(r[5]),
            int(r[6]),
        )
        for r in rows
    ]


def daily(conn: duckdb.DuckDBPyConnection, period: Period) -> list[DayRow]:
    rows = conn.execute(load_sql("report/batch_daily"), _params(period)).fetchall()
    return [
        DayRow(r[0], int(r[1]), int(r[2]), float(r[3]), None if r[4] is None else float(r[4]))
        for r in rows
    ]


def tokens(conn: duckdb.DuckDBPyConnection, period: Period) -> list[TokenRow]:
    """$ per 1M tokens per model: the allocation engine's token rates for the period."""
    return [
        TokenRow(
            r.serving_key,
            r.gpu_cost_usd_micros,
            r.input_tokens,
            r.output_tokens,
            r.requests,
            r.usd_per_1m_tokens,
            r.list_usd_per_1m_tokens,
        )
        for r in token_rates(conn, period.window)
    ]


def idle_nodes(
    conn: duckdb.DuckDBPyConnection, period: Period, limit: int = TOP_IDLE_NODES
) -> list[IdleNodeRow]:
    rows = conn.execute(
        load_sql("report/top_idle_nodes"), {**_params(period), "limit": limit}
    ).fetchall()
    return [
        IdleNodeRow(
            r[0],
            r[1] or "",
            r[2],
            r[3],
            float(r[4]),
            int(r[5]),
            None if r[6] is None else float(r[6]),
        )
        for r in rows
    ]


def collect(conn: duckdb.DuckDBPyConnection, period: Period, savings: Savings) -> ReportData:
    """All figures of the report for `period` (and the previous period's summary for the trend)."""
    previous = period.previous()
    return ReportData(
        period=period,
        previous=previous,
        summary=summary(conn, period),
        previous_summary=summary(conn, previous),
        by={dim: by_dimension(conn, period, dim) for dim in DIMENSIONS},
        daily=daily(conn, period),
        tokens=tokens(conn, period),
        idle_nodes=idle_nodes(conn, period),
        savings=savings,
    )
