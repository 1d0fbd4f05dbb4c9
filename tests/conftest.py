"""Shared fixtures: a fresh in-memory database, paths to the repo and to ../shared/."""

from __future__ import annotations

import os
from pathlib import Path

import duckdb
import pytest

from costlab import store

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared"


def pytest_collection_modifyitems(config, items):  # noqa: ARG001
    # In CI a skipped test is a failure: turn every skip marker into a hard error there.
    if os.environ.get("CI"):
        for item in items:
            for marker in item.iter_markers("skip"):
                raise pytest.UsageError(f"{item.nodeid} is marked skip ({marker.kwargs}); skips fail in CI")


@pytest.fixture
def fresh_db() -> duckdb.DuckDBPyConnection:
    conn = store.connect(":memory:")
    yield conn
    conn.close()


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    if not SHARED.is_dir():
        pytest.fail(f"{SHARED} is missing: tests read reference data from ../shared/")
    return SHARED


@pytest.fixture(scope="session")
def repo_dir() -> Path:
    return REPO
