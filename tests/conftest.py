"""Common fixtures: a fresh in-memory database, the repo path, a small demo database.

Tests read only what a clone holds (tests/fixtures, costlab/data, costlab/schemas), never ../shared.
"""

from __future__ import annotations

import os
from pathlib import Path

import duckdb
import pytest
from hypothesis import settings

from costlab import store

REPO = Path(__file__).resolve().parent.parent

# In CI every property test draws the same examples run after run (a failure there reproduces
# exactly); locally they stay random, which is where new counterexamples are found.
settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")


def pytest_collection_modifyitems(config, items):  # noqa: ARG001
    # In CI a skipped test is a failure: turn every skip marker into a hard error there.
    if os.environ.get("CI"):
        for item in items:
            for marker in item.iter_markers("skip"):
                raise pytest.UsageError(
                    f"{item.nodeid} is marked skip ({marker.kwargs}); skips fail in CI"
                )


@pytest.fixture
def fresh_db() -> duckdb.DuckDBPyConnection:
    conn = store.connect(":memory:")
    yield conn
    conn.close()


@pytest.fixture(scope="session")
def repo_dir() -> Path:
    return REPO


@pytest.fixture(scope="session")
def demo_db(tmp_path_factory) -> Path:
    """A 2-day demo database (seed 7), built once per test session and allocated. Read it only."""
    from costlab.allocate.gpu import allocate_window
    from costlab.demo.run import load_demo

    path = tmp_path_factory.mktemp("demo") / "demo.duckdb"
    conn = store.connect(path)
    try:
        window = load_demo(conn, days=2, seed=7)
        allocate_window(conn, window, window.end)
    finally:
        conn.close()
    return path


def pytest_addoption(parser):
    parser.addoption(
        "--update-golden",
        action="store_true",
        default=False,
        help="rewrite golden files under tests/golden/ from the current output (review the diff!)",
    )


@pytest.fixture(scope="session")
def update_golden(request) -> bool:
    """True when golden files should be rewritten (--update-golden or COSTLAB_UPDATE_GOLDEN=1)."""
    return bool(
        request.config.getoption("--update-golden")
        or os.environ.get("COSTLAB_UPDATE_GOLDEN") == "1"
    )
