"""Thresholds of the generated alerts: from settings when given, else from the recorded data.

The rules builder never touches the database: `cost_threshold` reads what it needs once and
returns a small value object with the number and a sentence saying where it came from, which
ends up in the alert's annotations.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

import duckdb

from costlab.emit.rules_settings import RulesSettings
from costlab.money import micros_to_usd
from costlab.store import load_sql

CENT = Decimal("0.01")


@dataclass(frozen=True)
class CostThreshold:
    """The cluster $/hour above which the cost alert fires; `usd_per_hour` None = undefined."""

    usd_per_hour: Decimal | None
    basis: str


def cost_threshold_from_stats(
    settings: RulesSettings, stats: dict[str, Any] | None
) -> CostThreshold:
    """Pick the threshold: the setting if given, else the data quantile, else undefined.

    `stats` is one row of `sql/emit/hourly_cost_quantile.sql` as a dict (or None: no database).
    """
    if settings.cost_threshold_usd_per_hour is not None:
        value = settings.cost_threshold_usd_per_hour.quantize(CENT, rounding=ROUND_HALF_EVEN)
        return CostThreshold(value, "set in settings (cost_threshold_usd_per_hour)")
    if not stats or not stats.get("hours") or stats.get("quantile_usd_micros") is None:
        return CostThreshold(None, "no allocation data and no cost_threshold_usd_per_hour setting")
    micros = int(stats["quantile_usd_micros"])
    value = micros_to_usd(micros).quantize(CENT, rounding=ROUND_HALF_EVEN)
    if value <= 0:
        return CostThreshold(None, "recorded hourly cost is zero; set cost_threshold_usd_per_hour")
    first = stats["first_hour_ts"]
    last = stats["last_hour_ts"]
    top = micros_to_usd(int(stats["max_usd_micros"]))
    quantile = f"p{settings.cost_threshold_quantile * 100:g}"
    basis = (
        f"{quantile} of {stats['hours']} hourly GPU cost totals per cluster "
        f"({stats['clusters']} cluster(s)) in the allocation table, hours "
        f"{_hour(first)} to {_hour(last)} (max ${top:.2f}/h)"
    )
    return CostThreshold(value, basis)


def hourly_cost_stats(conn: duckdb.DuckDBPyConnection, settings: RulesSettings) -> dict[str, Any]:
    """Hourly-cost statistics over the baseline: sql/emit/hourly_cost_quantile.sql as a dict."""
    cursor = conn.execute(
        load_sql("emit/hourly_cost_quantile"),
        {"baseline_days": settings.baseline_days, "quantile": settings.cost_threshold_quantile},
    )
    names = [d[0] for d in cursor.description]
    row = cursor.fetchone()
    return dict(zip(names, row, strict=True)) if row else {}


def cost_threshold(
    conn: duckdb.DuckDBPyConnection | None, settings: RulesSettings
) -> CostThreshold:
    """The cost threshold for `settings`, reading the allocation table only when needed."""
    if settings.cost_threshold_usd_per_hour is not None or conn is None:
        return cost_threshold_from_stats(settings, None)
    return cost_threshold_from_stats(settings, hourly_cost_stats(conn, settings))


def _hour(ts: object) -> str:
    text = ts.isoformat() if hasattr(ts, "isoformat") else str(ts)
    return text.replace("+00:00", "Z")
