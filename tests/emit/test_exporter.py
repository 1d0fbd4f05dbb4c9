"""`costlab exporter`: prices and tenant dollars from the database, over real HTTP on 127.0.0.1."""

from __future__ import annotations

import socket
from datetime import UTC, datetime, timedelta

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


def engine_node_prices(conn, at: datetime) -> dict[tuple[str, str], int]:
    """What the allocation engine charges each node alive at `at`, micro-dollars per hour: its
    own temp stages up to node_segments, run for the hour holding `at`."""
    from costlab.allocate.gpu import (
        ALLOCATION_STAGES,
        allocation_inputs,
        allocation_params,
        data_bounds,
    )
    from costlab.allocate.settings import AllocateSettings
    from costlab.timeutil import Window

    _first, horizon = data_bounds(conn)
    assert horizon is not None, "the database holds no nodes"
    hour = Window(at, at + timedelta(seconds=1)).hour_aligned()
    cfg = AllocateSettings()
    params = allocation_params(hour, horizon, cfg)
    for name, frame in allocation_inputs(hour, cfg).items():
        conn.register(name, frame)
    for stage in ALLOCATION_STAGES:
        if stage.result:
            continue
        for statement in conn.extract_statements(store.load_sql(stage.sql_name)):
            conn.execute(statement, {n: params[n] for n in statement.named_parameters})
        if stage.table == "alloc_node_segments":
            break
    rows = conn.execute(
        "SELECT cluster, node, usd_micros_per_hour FROM alloc_node_segments "
        "WHERE seg_start_ts <= $at AND seg_end_ts > $at",
        {"at": at},
    ).fetchall()
    return {(cluster, node): int(micros) for cluster, node, micros in rows}


def exporter_node_prices(conn, at: datetime) -> dict[tuple[str, str], int]:
    """The exporter's price for each node alive at `at`, picked as the generated rules pick it
    (node:costlab_cost_usd_per_hour:sum): the node's zone's series, else its region's (zone="")."""
    served = {
        (it, ct, region, zone): micros
        for it, ct, region, zone, micros, _gpus in read_snapshot(conn, at).prices
    }
    nodes = conn.execute(
        "SELECT cluster, node, instance_type, capacity_type, region, coalesce(zone, '') "
        "FROM nodes WHERE start_ts <= $at AND coalesce(end_ts, 'infinity'::TIMESTAMPTZ) > $at",
        {"at": at},
    ).fetchall()
    out = {}
    for cluster, node, it, ct, region, zone in nodes:
        price = served.get((it, ct, region, zone), served.get((it, ct, region, "")))
        if price is not None:
            out[(cluster, node)] = price
    return out


def test_exporter_price_of_every_node_is_the_engines(demo_db):
    """Issue #13: the $/h the rules and alerts are built on is what the allocation charges."""
    conn = store.connect(demo_db, read_only=True)
    try:
        first, horizon = conn.execute(
            "SELECT min(start_ts), max(coalesce(end_ts, start_ts)) FROM nodes"
        ).fetchall()[0]
        checked = 0
        at = first + timedelta(minutes=30)
        while at < horizon:
            engine = engine_node_prices(conn, at)
            exporter = exporter_node_prices(conn, at)
            assert exporter == engine, at
            checked += len(engine)
            at += timedelta(hours=1)
    finally:
        conn.close()
    assert checked > 500  # every hour of the 2-day demo, dozens of nodes each


def test_zonal_price_beats_a_better_ranked_region_wide_source(fresh_db):
    """The engine prefers a zone's own price to a region-wide one before it looks at the source
    (sql/allocate/price_periods.sql); the exporter's old ranking put the source first and served
    pricing-api's $55.04 where the allocation charged Karpenter's zonal $48.50."""
    import pyarrow as pa

    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    base = {"instance_type": "p5.48xlarge", "region": "us-east-1", "capacity_type": "on-demand"}
    prices = [
        {**base, "zone": "", "source": "pricing-api", "usd_micros_per_hour": 55_040_000},
        {
            **base,
            "zone": "us-east-1a",
            "source": "karpenter-estimate",
            "usd_micros_per_hour": 48_500_000,
        },
    ]
    store.upsert(
        fresh_db, "prices", pa.Table.from_pylist([{**p, "effective_from": t0} for p in prices])
    )
    node = {
        "cluster": "prod",
        "node": "p5-1",
        "start_ts": t0,
        "end_ts": datetime(2026, 3, 1, tzinfo=UTC),
        "end_reason": "consolidated",
        "nodepool": "gpu-od",
        "instance_type": "p5.48xlarge",
        "capacity_type": "on-demand",
        "region": "us-east-1",
        "zone": "us-east-1a",
        "gpu_count": 8,
        "gpu_model": "H100",
        "gpu_memory_mib": None,
    }
    store.upsert(fresh_db, "nodes", pa.Table.from_pylist([node]))
    at = datetime(2026, 2, 1, 12, 30, tzinfo=UTC)
    served = {(it, zone): m for it, _ct, _r, zone, m, _g in read_snapshot(fresh_db, at).prices}
    assert served == {("p5.48xlarge", ""): 55_040_000, ("p5.48xlarge", "us-east-1a"): 48_500_000}
    assert exporter_node_prices(fresh_db, at) == {("prod", "p5-1"): 48_500_000}
    assert engine_node_prices(fresh_db, at) == {("prod", "p5-1"): 48_500_000}
