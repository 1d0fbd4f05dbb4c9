"""Top savings from the simulator, when `costlab.simulate` is importable and returns results.

The simulator replays the whole recorded history (not only the report period) and extrapolates
savings to a 730-hour month; the report says so. Any failure to import or run it becomes a
section that says the simulator is not available, with the reason, never a failed report.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from costlab.report.data import SavingRow, Savings

log = logging.getLogger(__name__)

SavingsProvider = Callable[[Path], Savings]


def _row(result: Any) -> SavingRow:
    risk = ", ".join(f"{k}={v:.2f}" for k, v in sorted(result.risk.items()))
    return SavingRow(
        strategy=str(result.strategy),
        baseline_usd_micros=int(result.baseline_cost_usd_micros),
        simulated_usd_micros=int(result.simulated_cost_usd_micros),
        savings_usd_micros=int(result.savings_usd_micros),
        savings_ratio=float(result.savings_ratio),
        savings_per_month_usd_micros=int(result.savings_per_month_usd_micros),
        risk=risk,
    )


def from_results(results: list[Any]) -> Savings:
    """Rows for the strategies that could say something, best saving first."""
    defined = [r for r in results if getattr(r, "undefined", None) is None]
    if not defined:
        reasons = "; ".join(f"{r.strategy}: {r.undefined}" for r in results) or "no strategies ran"
        return Savings(False, f"The simulator is not available for this data ({reasons}).")
    rows = sorted((_row(r) for r in defined), key=lambda r: (-r.savings_usd_micros, r.strategy))
    hours = max(float(getattr(r, "window_hours", 0.0)) for r in defined)
    note = (
        f"Karpenter strategies replayed by `costlab simulate` over the whole recorded history "
        f"({hours:,.0f} hours, not only this period); $/month extrapolates to 730 hours. "
        "'all' chains the single strategies."
    )
    return Savings(True, note, rows)


def simulator_savings(db_path: Path) -> Savings:
    """Run every strategy through `costlab.simulate.runner`, or say why it is not available."""
    try:
        runner = importlib.import_module("costlab.simulate.runner")
        load, simulate = runner.load, runner.simulate
    except (ImportError, AttributeError) as exc:
        return Savings(False, f"The simulator is not available ({exc}).")
    try:
        results = simulate(load(db_path), "all")
    except Exception as exc:  # noqa: BLE001 - an optional section must not fail the report
        log.warning("simulator failed: %s", exc)
        return Savings(
            False,
            f"The simulator is not available: it failed on this data ({type(exc).__name__}: {exc}).",
        )
    return from_results(list(results))


def unavailable(_: Path) -> Savings:
    """A provider for callers that do not want the simulator to run (tests, quick reports)."""
    return Savings(False, "The simulator is not available (not requested for this report).")
