"""Glue for `costlab simulate`: open the database read-only, load, run, render."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from rich.table import Table

from costlab import store
from costlab.config import settings_for
from costlab.money import micros_to_usd
from costlab.simulate.base import STRATEGIES, SimInputs, SimResult, chain, get_strategy
from costlab.simulate.combined import CombinedSettings
from costlab.simulate.inputs import LoadSettings, load_inputs


def load(db_path: Path | str, settings: LoadSettings | None = None) -> SimInputs:
    conn = store.connect(db_path, read_only=True)
    try:
        return load_inputs(conn, settings)
    finally:
        conn.close()


def simulate(
    inputs: SimInputs, strategy: str = "all", settings: CombinedSettings | None = None
) -> list[SimResult]:
    """The named strategy's result; for `all`, every single strategy and then the chained one.

    `settings` ([simulate] in costlab.toml) holds one table per strategy; `all` chains them.
    """
    get_strategy(strategy)  # raises with the valid names
    cfg = settings or CombinedSettings()
    names = [*chain(), "all"] if strategy == "all" else [strategy]
    return [STRATEGIES[n](cfg if n == "all" else getattr(cfg, n)).run(inputs) for n in names]


def _usd(micros: int) -> str:
    return f"{micros_to_usd(micros):,.2f}"


def render_table(results: list[SimResult]) -> Table:
    table = Table(title="costlab simulate (window replay)")
    for col in (
        "strategy",
        "baseline $",
        "simulated $",
        "saved $",
        "saved %",
        "saved $/month",
        "risk",
    ):
        table.add_column(col, justify="right" if "$" in col or "%" in col else "left")
    for r in results:
        risk = ", ".join(f"{k}={v:.2f}" for k, v in sorted(r.risk.items()))
        table.add_row(
            r.strategy,
            _usd(r.baseline_cost_usd_micros),
            _usd(r.simulated_cost_usd_micros),
            _usd(r.savings_usd_micros),
            f"{100 * r.savings_ratio:.1f}",
            _usd(r.savings_per_month_usd_micros),
            r.undefined or risk,
        )
    return table


def render_json(results: list[SimResult]) -> str:
    return json.dumps([r.to_dict() for r in results], sort_keys=True, indent=2, default=str)


def simulate_from_cli(db_path: Path, *, strategy: str, fmt: str, console: Any) -> Any:
    """CLI entry: `costlab simulate --strategy NAME --format table|json`."""
    get_strategy(strategy)  # an unknown name fails before the fleet is loaded
    results = simulate(load(db_path), strategy, settings_for(CombinedSettings, "simulate"))
    if fmt == "json":
        return render_json(results)
    print_assumptions(results, console)
    return render_table(results)


def print_assumptions(results: list[SimResult], console: Any) -> None:
    """Each strategy's assumptions (and why it could say nothing, if so), one line each."""
    for r in results:
        if r.undefined:
            console.print(f"[bold]{r.strategy}[/bold]: undefined: {r.undefined}", highlight=False)
        if r.assumptions:
            console.print(f"[bold]{r.strategy}[/bold] assumptions:", highlight=False)
            for a in r.assumptions:
                console.print(f"  - {a}", highlight=False, markup=False)
