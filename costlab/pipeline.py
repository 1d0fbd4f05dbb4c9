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
from costlab.allocate.gpu import resolve_window
from costlab.allocate.settings import AllocateSettings
from costlab.allocate.window import clip_window
from costlab.config import settings_for
from costlab.errors import StoreError, UsageError


def allocate(
    db: Path,
    *,
    start: str | None = None,
    end: str | None = None,
    by: str = "team",
    idle: str = "separate",
    engine: str = "duckdb",
    input_root: str | None = None,
    spark_master: str = "local[2]",
) -> alloc_report.AllocationResult:
    """Rebuild the allocation for the window and group it by `by` with the idle policy.

    costlab.allocate.run runs it: in `db`, or from a Parquet layout (`input_root`, see `costlab
    export parquet`) on DuckDB or Spark; results land in `db` all the same."""
    alloc_report.parse_by(by)  # fail on a bad --by before touching the database
    from costlab.allocate.run import allocate_with_engine

    return allocate_with_engine(
        db,
        engine=engine,
        input_root=input_root,
        spark_master=spark_master,
        start=start,
        end=end,
        by=by,
        idle=idle,
        settings=settings_for(AllocateSettings, "allocate"),
    )


def export_parquet(db: Path, out: str) -> str:
    """`costlab export parquet`: the database's tables as the Hive-partitioned Parquet layout."""
    from costlab.export.parquet import export_database

    report = export_database(db, out)
    return f"wrote {sum(report.rows.values()):,} rows of {len(report.rows)} tables to {report.root}"


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
        window = clip_window(conn, resolve_window(conn, start, end)[0])
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


def run_dashboard(db: Path, *, port: int, tenant: str | None, address: str = "127.0.0.1") -> None:
    """Replace this process with Streamlit serving dashboards/app.py, read-only on `db`.

    exec rather than a child process: signals (Ctrl-C, a pod's SIGTERM) reach Streamlit directly
    and no orphan server is left behind."""
    if tenant is not None and not tenant.strip():
        # a blank tenant would otherwise serve the whole fleet to someone meant to see one tenant
        raise UsageError("--tenant must name a tenant; leave it out for the whole fleet")
    app = Path(__file__).resolve().parent.parent / "dashboards" / "app.py"
    if not app.is_file():
        raise StoreError(f"dashboard app not found at {app}")
    store.require_database(db)
    if not Path(db).is_file():
        raise StoreError(f"--db {db} is not a database file")
    env = dict(os.environ, COSTLAB_DB=str(Path(db).resolve()))
    if tenant is not None:
        env["COSTLAB_TENANT"] = tenant.strip()
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
        # always given: Streamlit's own default is every interface
        "--server.address",
        address,
    ]
    sys.stdout.flush()
    os.execve(sys.executable, cmd, env)
