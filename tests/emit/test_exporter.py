"""`costlab exporter`: prices and tenant dollars from the database, over real HTTP on 127.0.0.1."""

from __future__ import annotations

import socket
from datetime import UTC, datetime

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from costlab import store
from costlab.emit.exporter import DatabaseCollector, ExporterSettings, make_server, read_snapshot


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def key(name: str, **labels: str) -> tuple[str, tuple[tuple[str, str], ...]]:
    return name, tuple(sorted(labels.items()))


def price(it: str, ct: str, zone: str) -> dict[str, str]:
    return {"instance_type": it, "capacity_type": ct, "region": "us-east-1", "zone": zone}


@pytest.fixture
def exporter_url(cost_db):
    port = free_port()
    server, thread = make_server(cost_db, port=port, settings=ExporterSettings(host="127.0.0.1"))
    yield f"http://127.0.0.1:{port}/metrics"
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


@pytest.mark.service
def test_exporter_serves_prices_and_tenant_dollars(exporter_url):
    got = samples(requests.get(exporter_url, timeout=10).text)
    # manual $18.00 beats pricing-api $21.96; the newest spot row in force, not the 2099 one.
    assert (
        got[key("costlab_instance_hourly_cost_usd", **price("p4d.24xlarge", "on-demand", ""))]
        == 18.0
    )
    assert (
        got[key("costlab_instance_hourly_cost_usd", **price("g5.12xlarge", "spot", "us-east-1b"))]
        == 1.9876
    )
    assert (
        got[key("costlab_instance_hourly_cost_usd", **price("g5.12xlarge", "on-demand", ""))]
        == 5.672
    )
    # Per GPU: nodes table says p4d has 8 GPUs, g5.12xlarge 4.
    assert got[key("costlab_gpu_hourly_cost_usd", **price("p4d.24xlarge", "on-demand", ""))] == 2.25
    assert (
        got[key("costlab_gpu_hourly_cost_usd", **price("g5.12xlarge", "spot", "us-east-1b"))]
        == 0.4969
    )
    # Last completed hour of the fixture allocation: 19:00, $200 = research 70 %, idle 30 %.
    assert got[key("costlab_tenant_allocated_cost_usd", cluster="prod", tenant="research")] == 140.0
    assert got[key("costlab_tenant_allocated_cost_usd", cluster="prod", tenant="__idle__")] == 60.0
    assert got[key("costlab_tenant_allocated_gpu_hours", cluster="prod", tenant="research")] == 5.6
    hour = datetime(2026, 9, 1, 19, tzinfo=UTC).timestamp()
    assert got[key("costlab_allocation_hour_start_timestamp_seconds")] == hour
    assert got[key("costlab_exporter_refresh_success")] == 1.0


def test_snapshot_uses_prices_in_force_at_the_given_time(cost_db):
    conn = store.connect(cost_db, read_only=True)
    try:
        snap = read_snapshot(conn, datetime(2026, 1, 15, tzinfo=UTC))
    finally:
        conn.close()
    prices = {(it, ct, zone): micros for it, ct, _region, zone, micros, _gpus in snap.prices}
    # Before the manual override (Jan 31) and the newer spot row (Mar 2).
    assert prices[("p4d.24xlarge", "on-demand", "")] == 21_960_000
    assert prices[("g5.12xlarge", "spot", "us-east-1b")] == 2_500_000
    # Hours ending after `now` are not complete: no tenant dollars yet.
    assert snap.tenants == [] and snap.hour_start is None


def test_unreadable_database_keeps_serving_last_values(cost_db, tmp_path):
    collector = DatabaseCollector(cost_db, refresh_seconds=0)
    first = {m.name: m for m in collector.collect()}
    assert first["costlab_exporter_refresh_success"].samples[0].value == 1.0
    collector.db_path = tmp_path / "gone.duckdb"
    second = {m.name: m for m in collector.collect()}
    assert second["costlab_exporter_refresh_success"].samples[0].value == 0.0
    assert (
        second["costlab_instance_hourly_cost_usd"].samples
        == first["costlab_instance_hourly_cost_usd"].samples
    )
