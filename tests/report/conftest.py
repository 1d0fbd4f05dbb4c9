"""Fixtures for the batch report tests: the hand-checked two-week fleet and the 2-day demo."""

from __future__ import annotations

from pathlib import Path

import pytest
from report_fixtures import build_two_week_fleet, demo_db


@pytest.fixture(scope="session")
def two_weeks(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, int]]:
    path = tmp_path_factory.mktemp("report-fleet") / "fleet.duckdb"
    totals = build_two_week_fleet(path)
    return path, totals


@pytest.fixture(scope="session")
def demo_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return demo_db(tmp_path_factory.getbasetemp())
