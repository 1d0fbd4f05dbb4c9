"""Fixtures for the Prometheus collector tests: one real Prometheus over the fleet's TSDB blocks."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from prom_fleet import TYPES, fleet_series
from prom_server import PromServer, build_blocks, write_openmetrics


@pytest.fixture(scope="session")
def fleet_prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PromServer]:
    root = tmp_path_factory.mktemp("prom-fleet")
    om = root / "fleet.om"
    write_openmetrics(om, fleet_series(), TYPES)
    build_blocks(om, root / "data")
    with PromServer(root / "data") as server:
        yield server
