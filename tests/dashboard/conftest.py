"""Dashboard fixtures: one small demo database per session (2 days), and an empty one."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from costlab import store

REPO = Path(__file__).resolve().parents[2]
APP = REPO / "dashboards" / "app.py"
SCREENSHOTS = REPO / "artifacts" / "screenshots"
DEMO_DAYS = 2


@pytest.fixture(scope="session")
def demo_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 2-day demo fleet, loaded and allocated by the real CLI (`costlab --db X demo --days 2`).

    COSTLAB_DASHBOARD_TEST_DB=FILE reuses an existing demo database instead (local iteration).
    """
    reuse = os.environ.get("COSTLAB_DASHBOARD_TEST_DB")
    if reuse:
        return Path(reuse)
    path = tmp_path_factory.mktemp("dash") / "demo.duckdb"
    proc = subprocess.run(
        [sys.executable, "-m", "costlab.cli", "--db", str(path), "demo", "--days", str(DEMO_DAYS)],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=REPO,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    return path


@pytest.fixture(scope="session")
def empty_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated costlab database with no rows."""
    path = tmp_path_factory.mktemp("dash-empty") / "empty.duckdb"
    store.connect(path).close()
    return path
