"""Fixtures for the emitters: golden files, promtool, a small database with known dollars.

`pytest tests/emit --update-golden` (or COSTLAB_UPDATE_GOLDEN=1) rewrites the golden files under
tests/golden/ instead of comparing; review the diff before committing.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from costlab import store
from tests.emit.rules_fixtures import GOLDEN, fill_allocation, fill_prices_and_nodes


def pytest_addoption(parser: pytest.Parser) -> None:
    # tests/conftest.py may define the same option for the whole suite; add it only if missing.
    try:
        parser.addoption(
            "--update-golden",
            action="store_true",
            default=False,
            help="Rewrite golden files instead of comparing.",
        )
    except ValueError:
        pass


@pytest.fixture(scope="session")
def update_golden(pytestconfig: pytest.Config) -> bool:
    flag = bool(pytestconfig.getoption("--update-golden", default=False))
    return flag or os.environ.get("COSTLAB_UPDATE_GOLDEN") == "1"


@pytest.fixture(scope="session")
def golden(update_golden: bool):
    """golden(relative_path, text): compare with tests/golden/<path> exactly (or rewrite it)."""

    def check(relative: str, text: str) -> None:
        path = GOLDEN / relative
        if update_golden:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
            return
        if not path.is_file():
            pytest.fail(f"golden file {path} is missing: run pytest tests/emit --update-golden")
        expected = path.read_text()
        assert text == expected, (
            f"{relative} differs from its golden file; rerun with --update-golden and review"
        )

    return check


@pytest.fixture(scope="session")
def promtool() -> str:
    found = shutil.which("promtool") or (
        "/usr/bin/promtool" if Path("/usr/bin/promtool").exists() else None
    )
    if not found:
        pytest.fail("promtool is not installed (Debian package `prometheus`)")
    return found


@pytest.fixture(scope="session")
def prometheus_bin() -> str:
    found = shutil.which("prometheus") or (
        "/usr/bin/prometheus" if Path("/usr/bin/prometheus").exists() else None
    )
    if not found:
        pytest.fail("prometheus is not installed (Debian package `prometheus`)")
    return found


@pytest.fixture(autouse=True)
def _no_costlab_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Settings come from the environment: keep the developer's COSTLAB_* out of these tests."""
    for key in list(os.environ):
        if key.startswith(("COSTLAB_RULES_", "COSTLAB_EXPORTER_")):
            monkeypatch.delenv(key)


@pytest.fixture
def cost_db(tmp_path: Path) -> Path:
    """A database file with allocation, prices and nodes filled, closed so readers can open it."""
    path = tmp_path / "costlab.duckdb"
    conn = store.connect(path)
    fill_allocation(conn)
    fill_prices_and_nodes(conn)
    conn.close()
    return path
