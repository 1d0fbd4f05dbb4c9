"""Glue between the CLI (or notebooks) and the stages: open the database, pick the window, run.

Reads tables, calls the engine, writes results. No SQL and no arithmetic on money here.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

from costlab import store
from costlab.allocate import report as alloc_report
from costlab.allocate import tokens as tokens_mod
from costlab.allocate.gpu import allocate_window, data_bounds
from costlab.allocate.settings import AllocateSettings
from costlab.config import settings_for
from costlab.errors import StoreError, UsageError
from costlab.timeutil import Window, ceil_hour, floor_hour, parse_ts


def resolve_window(conn: Any, start: str | None, end: str | None) -> tuple[Window, Any]:
    """The window to allocate: given bounds, else the span of recorded data (hour-aligned)."""
    first, horizon = data_bounds(conn)
    if first is None or horizon is None:
        raise StoreError(
            "the database holds no nodes yet: run `costlab demo` or `costlab collect prometheus`"
        )
    lo = parse_ts(start) if start else floor_hour(first)
    hi = parse_ts(end) if end else ceil_hour(horizon)
    return Window(lo, hi).hour_aligned(), horizon


def allocate(
    db: Path,
    *,
    start: str | None = None,
    end: str | None = None,
    by: str = "team",
    idle: str = "separate",
) -> alloc_report.AllocationResult:
    """Rebuild the allocation for the window and group it by `by` with the idle policy."""
    alloc_report.parse_by(by)  # fail on a bad --by before touching the database
    settings = settings_for(AllocateSettings, "allocate")
    conn = store.connect(db)
    try:
        window, horizon = resolve_window(conn, start, end)
        run = allocate_window(conn, window, horizon, settings)
        rows = alloc_report.report_by(
            conn, window, by=by, idle=idle, scope=settings.idle_share_scope
        )
    finally:
        conn.close()
    return alloc_report.AllocationResult(
        window=window,
        by=by,
        idle=idle,
        total_node_cost_usd_micros=run.total_node_cost_usd_micros,
        unpriced_node_hours=run.unpriced_node_hours,
        rows=rows,
    )


def tokens(
    db: Path,
    *,
    start: str | None = None,
    end: str | None = None,
    by: str = "model",
    match: str = "model",
    limit: int = 50,
) -> tokens_mod.TokenReport:
    """Token economics over the allocation already computed for the window (read-only)."""
    if by not in ("model", *tokens_mod.LEVELS):
        raise UsageError(f"--by must be model or one of {', '.join(tokens_mod.LEVELS)}")
    settings = settings_for(AllocateSettings, "allocate")
    conn = store.connect(db, read_only=True)
    try:
        window, _ = resolve_window(conn, start, end)
        if by == "model":
            return tokens_mod.TokenReport(
                window, by, rates=tokens_mod.token_rates(conn, window, settings, match)
            )
        rows = tokens_mod.token_cost_by(conn, window, by, settings, match, limit=limit)
        return tokens_mod.TokenReport(window, by, costs=rows)
    finally:
        conn.close()


def run_demo(db: Path, *, days: int, seed: int, console: Any) -> Any:
    """Generate the demo fleet into `db` (replacing it), allocate, and return a summary."""
    from costlab.demo import run as demo_run

    if db.exists() and db.is_dir():
        raise UsageError(f"--db {db} is a directory")
    return demo_run.run(db, days=days, seed=seed, console=console)


def run_dashboard(db: Path, *, port: int, tenant: str | None, address: str | None = None) -> None:
    """Replace this process with Streamlit serving dashboards/app.py, read-only on `db`.

    exec rather than a child process: signals (Ctrl-C, a pod's SIGTERM) reach Streamlit directly
    and no orphan server is left behind."""
    app = Path(__file__).resolve().parent.parent / "dashboards" / "app.py"
    if not app.is_file():
        raise StoreError(f"dashboard app not found at {app}")
    if not Path(db).is_file():
        raise StoreError(f"database {db} does not exist yet: run `costlab demo` first")
    env = dict(os.environ, COSTLAB_DB=str(Path(db).resolve()))
    if tenant:
        env["COSTLAB_TENANT"] = tenant
    cmd = [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(app),
        "--server.port",
        str(port),
        "--server.headless",
        "true",
        "--browser.gatherUsageStats",
        "false",
    ]
    if address:
        cmd += ["--server.address", address]
    sys.stdout.flush()
    os.execve(sys.executable, cmd, env)
