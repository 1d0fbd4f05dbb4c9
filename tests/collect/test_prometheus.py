"""The Prometheus collector against a real Prometheus (TSDB blocks built with promtool).

The fleet is described, with its expected rows, in prom_fleet.py.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from prom_fleet import T0, at
from prom_server import Proxy, requests_of_a_full_run
from prom_snapshot import TABLES, backfill_snapshot, settings, snapshot

from costlab import store
from costlab.collect import sink
from costlab.collect.prometheus import (
    GROUPS,
    PrometheusSettings,
    collect,
    collect_from_cli,
    parse_duration,
    plan_chunks,
)
from costlab.errors import CollectorError, UsageError
from costlab.timeutil import Window

pytestmark = pytest.mark.service

FULL = Window(T0, at(480))


@pytest.fixture(scope="module")
def full_load(fleet_prometheus) -> dict[str, list[tuple]]:
    """One uninterrupted backfill of the whole 2 h window: the reference the other tests match."""
    return backfill_snapshot(fleet_prometheus.url, FULL)


def test_backfill_rows_are_exact(fleet_prometheus, fresh_db):
    report = collect(fresh_db, window=FULL, settings=settings(fleet_prometheus.url))
    assert report.mode == "backfill"
    nodes = fresh_db.execute(
        "SELECT node, start_ts, end_ts, end_reason, nodepool, instance_type, capacity_type, "
        "region, zone, "
        "gpu_count, gpu_model FROM nodes ORDER BY node"
    ).fetchall()
    assert nodes == [
        (
            "node-a",
            T0,
            None,
            None,
            "gpu",
            "p4d.24xlarge",
            "on-demand",
            "us-east-1",
            "us-east-1a",
            8,
            "A100",
        ),
        (
            "node-b",
            T0,
            at(200),
            "interrupted",
            "spot",
            "g5.12xlarge",
            "spot",
            "us-east-1",
            "us-east-1b",
            4,
            "A10G",
        ),
        (
            "node-c",
            at(215),
            None,
            None,
            "spot",
            "g5.12xlarge",
            "spot",
            "us-east-1",
            "us-east-1b",
            4,
            "A10G",
        ),
        # Not a Karpenter node: kube_node_labels (EKS managed node group) + DCGM.
        (
            "node-d",
            T0,
            None,
            None,
            "ng-t4",
            "g4dn.xlarge",
            "spot",
            "us-east-1",
            "us-east-1c",
            1,
            "T4",
        ),
        # Seen only by DCGM: GPU count and model from DCGM, the rest unknown (unpriced).
        (
            "node-e",
            at(40),
            at(400),
            "unknown",
            None,
            "unknown",
            "unknown",
            "unknown",
            None,
            2,
            "L4",
        ),
    ]
    # cpu-0 (labels only, no GPU) is not a node row; node-b's label disagrees with Karpenter.
    assert report.warnings == [
        "node default/node-b: capacity_type is 'spot' in Karpenter metrics but 'on-demand' in "
        "kube_node_labels (Karpenter's kept)"
    ]
    # Pods moving between nodes: one interval per node; the pending pod (node="") holds nothing.
    pods = fresh_db.execute(
        "SELECT cluster, namespace, pod, container, gpu_resource, start_ts, end_ts, node, quantity "
        "FROM pod_gpu_requests ORDER BY namespace, pod, start_ts"
    ).fetchall()
    assert pods == [
        ("default", "team-a", "train-0", "main", "nvidia.com/gpu", T0, at(200), "node-b", 4.0),
        ("default", "team-a", "train-0", "main", "nvidia.com/gpu", at(222), None, "node-c", 4.0),
        (
            "default",
            "team-b",
            "infer-0",
            "server",
            "nvidia.com/mig-1g.10gb",
            T0,
            None,
            "node-a",
            1.0,
        ),
        # The request series has no `node` label: kube_pod_info puts the pod on node-d.
        ("default", "team-b", "notebook-0", "jupyter", "nvidia.com/gpu", T0, None, "node-d", 1.0),
    ]
    assert fresh_db.execute(
        "SELECT namespace, pod, uid, node, host_ip, created_by_kind, created_by_name, "
        "first_seen_ts, last_seen_ts FROM prometheus_pod_info ORDER BY ALL"
    ).fetchall() == [
        ("team-a", "train-0", "u1", "node-b", "10.0.0.1", "Job", "train", T0, at(199)),
        ("team-a", "train-0", "u2", "node-c", "10.0.0.2", "Job", "train", at(222), at(479)),
        ("team-b", "infer-0", "u3", "node-a", "10.0.0.3", "ReplicaSet", "infer-6d4f", T0, at(479)),
        (
            "team-b",
            "notebook-0",
            "u5",
            "node-d",
            "10.0.0.5",
            "StatefulSet",
            "notebook",
            T0,
            at(479),
        ),
        ("team-b", "pending-0", "u4", None, None, "ReplicaSet", "pending-7c9b", T0, at(479)),
    ]  # team-c/web-0 requests no GPU: not fetched
    gpus = fresh_db.execute(
        "SELECT node, gpu_index, gpu_uuid, mig_instance_id, mig_profile, count(*), "
        "count(util_pct), "
        "count(engine_active_ratio), max(namespace), max(pod), min(fb_used_mib), max(model_name) "
        "FROM gpu_samples GROUP BY ALL ORDER BY ALL"
    ).fetchall()
    assert gpus == [
        (
            "node-a",
            0,
            "GPU-a0",
            -1,
            None,
            460,
            460,
            460,
            None,
            None,
            1024.0,
            "NVIDIA A100-SXM4-40GB",
        ),
        (
            "node-a",
            1,
            "GPU-a1",
            1,
            "1g.10gb",
            480,
            0,
            480,
            "team-b",
            "infer-0",
            1024.0,
            "NVIDIA A100-SXM4-40GB",
        ),
        (
            "node-a",
            1,
            "GPU-a1",
            2,
            "1g.10gb",
            480,
            0,
            480,
            None,
            None,
            1024.0,
            "NVIDIA A100-SXM4-40GB",
        ),
        ("node-b", 0, "GPU-b0", -1, None, 200, 200, 0, None, None, 1024.0, "NVIDIA A10G"),
        ("node-c", 0, "GPU-c0", -1, None, 265, 265, 0, None, None, 1024.0, "NVIDIA A10G"),
        ("node-d", 0, "GPU-d0", -1, None, 480, 480, 0, None, None, 1024.0, "Tesla T4"),
        ("node-e", 0, "GPU-e0", -1, None, 360, 360, 0, None, None, 1024.0, "NVIDIA L4"),
        ("node-e", 1, "GPU-e1", -1, None, 360, 360, 0, None, None, 1024.0, "NVIDIA L4"),
    ]
    assert fresh_db.execute(
        "SELECT util_pct, power_w, temp_c, fb_free_mib, engine_active_ratio FROM gpu_samples "
        "WHERE gpu_uuid = 'GPU-a0' AND ts = $ts",
        {"ts": at(123)},
    ).fetchall() == [(23.0, 250.5, 60.0, 9216.0, 0.5)]
    assert fresh_db.execute(
        "SELECT instance_type, region, zone, capacity_type, source, effective_from, "
        "usd_micros_per_hour "
        "FROM prices ORDER BY ALL"
    ).fetchall() == [
        ("g5.12xlarge", "us-east-1", "us-east-1b", "spot", "karpenter-estimate", T0, 2_100_000),
        (
            "g5.12xlarge",
            "us-east-1",
            "us-east-1b",
            "spot",
            "karpenter-estimate",
            at(240),
            2_300_000,
        ),
        (
            "p4d.24xlarge",
            "us-east-1",
            "us-east-1a",
            "on-demand",
            "karpenter-estimate",
            T0,
            21_960_000,
        ),
    ]
    assert fresh_db.execute("SELECT * FROM pod_labels ORDER BY ALL").fetchall() == [
        ("default", "team-a", "train-0", "app_kubernetes_io_name", "trainer"),
        ("default", "team-a", "train-0", "team", "research"),
        ("default", "team-b", "infer-0", "model", "llama-3"),
    ]
    assert fresh_db.execute("SELECT * FROM namespace_labels").fetchall() == [
        ("default", "team-a", "team", "research")
    ]
    # Missing scrapes and the counter reset are recorded, not interpolated.
    assert fresh_db.execute(TABLES["gaps"]).fetchall() == [
        (
            "prometheus",
            'DCGM{cluster="default",Hostname="node-a",UUID="GPU-a0",GPU_I_ID="-1"}',
            at(300),
            at(320),
            "missing-scrapes",
        ),
        (
            "prometheus",
            'karpenter_nodes_terminated_total{cluster="default",nodepool="spot",zone="us-east-1b"}',
            at(399),
            at(400),
            "counter-reset",
        ),
        # Karpenter counts 8 GPUs requested on node-c for 10 steps, kube-state-metrics 4.
        (
            "prometheus",
            'karpenter_nodes_total_pod_requests{cluster="default",node_name="node-c",'
            'resource_type="nvidia.com/gpu"}',
            at(300),
            at(310),
            "request-mismatch",
        ),
        # node-e has no Karpenter series and no kube_node_labels: recorded, unpriced.
        (
            "prometheus",
            'kube_node_labels{cluster="default",node="node-e"}',
            at(40),
            at(400),
            "node-without-karpenter-labels",
        ),
    ]
    assert report.counters == {
        "karpenter_nodes_created_total": 1.0,
        "karpenter_nodes_terminated_total": 1.0,
    }
    # A backfill does not move watermarks.
    assert fresh_db.execute("SELECT count(*) FROM watermarks").fetchone() == (0,)
    assert fresh_db.execute("SELECT status, rows_loaded FROM collection_runs").fetchall() == [
        ("ok", report.rows)
    ]


def test_running_twice_changes_nothing(fleet_prometheus, fresh_db, full_load):
    collect(fresh_db, window=FULL, settings=settings(fleet_prometheus.url))
    assert snapshot(fresh_db) == full_load
    collect(fresh_db, window=FULL, settings=settings(fleet_prometheus.url))
    assert snapshot(fresh_db) == full_load


def test_small_chunks_equal_one_chunk(fleet_prometheus, fresh_db, full_load):
    # 300 samples per query over ~20 DCGM series: chunks of a few points, cut mid-interval.
    report = collect(
        fresh_db, window=FULL, settings=settings(fleet_prometheus.url, max_samples_per_query=300)
    )
    chunks = {g.name: g.chunks for g in report.groups}
    # 37 DCGM series -> 8 points per chunk; node group: 3 allocatable + 1 disrupted + 5 node
    # labels + 5 (the DCGM-per-node count is sized by the node labels) -> 21 points per chunk.
    assert (chunks["gpu_samples"], chunks["nodes"]) == (60, 23)
    assert snapshot(fresh_db) == full_load


def test_incremental_runs_merge_open_intervals(fleet_prometheus, fresh_db, full_load):
    proxy_first = Proxy(fleet_prometheus.url)
    with proxy_first:
        s = settings(proxy_first.url, initial_lookback=timedelta(hours=1), lag=timedelta(minutes=2))
        first = collect(fresh_db, settings=s, now=at(240))
    assert first.mode == "incremental"
    assert {g.window for g in first.groups if g.name != "prices"} == {Window(T0, at(240))}
    # After the first hour node-a and node-c are open; the second run extends them in place.
    assert fresh_db.execute(
        "SELECT node, start_ts, end_ts FROM nodes ORDER BY node"
    ).fetchall() == [
        ("node-a", T0, None),
        ("node-b", T0, at(200)),
        ("node-c", at(215), None),
        ("node-d", T0, None),
        ("node-e", at(40), None),
    ]
    assert sink.get_watermark(fresh_db, "prometheus", "DCGM_FI_DEV_GPU_UTIL") == at(240)
    with Proxy(fleet_prometheus.url) as proxy:
        s = settings(proxy.url, initial_lookback=timedelta(hours=1), lag=timedelta(minutes=2))
        collect(fresh_db, settings=s, now=at(480))
    starts = proxy.range_starts()
    # Only new data (minus the 2 min lag) is fetched; counters reach back reason_lookback.
    plain = {start for query, start in starts if "_total" not in query and "price" not in query}
    assert min(plain) == at(240) - timedelta(minutes=2)
    # Prices run on a 5 min grid: the lagged start floors to it.
    assert min(start for q, start in starts if "price" in q) == at(220)
    assert min(start for q, start in starts if "_total" in q) == at(240) - timedelta(minutes=12)
    assert snapshot(fresh_db) == full_load
    assert fresh_db.execute("SELECT count(*) FROM nodes").fetchone() == (5,)
    # A third run with nothing new changes nothing and fetches only the lag.
    with Proxy(fleet_prometheus.url) as proxy:
        collect(fresh_db, settings=settings(proxy.url), now=at(480))
    assert snapshot(fresh_db) == full_load


def test_a_node_first_seen_by_dcgm_alone_is_fixed_when_karpenter_reports_it(
    fleet_prometheus, fresh_db, full_load
):
    s = settings(fleet_prometheus.url)
    collect(fresh_db, window=Window(T0, at(218)), settings=s)
    node_c = "SELECT start_ts, instance_type, capacity_type, region, gpu_count FROM nodes "
    node_c += "WHERE node = 'node-c'"
    notices = "SELECT series, gap_start_ts FROM collection_gaps WHERE kind = $k ORDER BY ALL"
    kind = {"k": "node-without-karpenter-labels"}
    assert fresh_db.execute(node_c).fetchall() == [(at(215), "unknown", "unknown", "unknown", 1)]
    assert fresh_db.execute(notices, kind).fetchall() == [
        ('kube_node_labels{cluster="default",node="node-c"}', at(215)),
        ('kube_node_labels{cluster="default",node="node-e"}', at(40)),
    ]
    collect(fresh_db, window=Window(at(218), at(480)), settings=s)
    # One node: Karpenter's attributes replace the unknowns and its notice is gone.
    assert fresh_db.execute(node_c).fetchall() == [(at(215), "g5.12xlarge", "spot", "us-east-1", 4)]
    assert snapshot(fresh_db) == full_load


def test_dcgm_only_node_is_reported_unpriced_by_the_allocation(fleet_prometheus, fresh_db):
    from costlab.allocate.gpu import allocate_window

    collect(fresh_db, window=FULL, settings=settings(fleet_prometheus.url))
    run = allocate_window(fresh_db, FULL, horizon=at(480))  # raises unless $ are conserved
    unpriced = fresh_db.execute(
        "SELECT node, instance_type, capacity_type, region, sum(node_hours) "
        "FROM unpriced_node_hours GROUP BY ALL ORDER BY node"
    ).fetchall()
    # node-e: [T0+10m, T0+100m) = 1.5 h; node-d (g4dn.xlarge) has no price in the fixture.
    assert unpriced == [
        ("node-d", "g4dn.xlarge", "spot", "us-east-1", pytest.approx(2.0)),
        ("node-e", "unknown", "unknown", "unknown", pytest.approx(1.5)),
    ]
    assert run.unpriced_node_hours == pytest.approx(3.5)
    assert run.allocated_usd_micros == run.total_node_cost_usd_micros > 0


def test_503_then_recovery_is_retried(fleet_prometheus, fresh_db, full_load):
    with Proxy(fleet_prometheus.url, fail_first=3) as proxy:
        report = collect(fresh_db, window=FULL, settings=settings(proxy.url))
    assert proxy.failed == 3
    assert report.retries == 3
    assert snapshot(fresh_db) == full_load


def test_503_forever_fails_the_run_and_keeps_watermarks(fleet_prometheus, fresh_db):
    with Proxy(fleet_prometheus.url, fail_always=True) as proxy:
        with pytest.raises(CollectorError, match="HTTP 503"):
            collect(fresh_db, settings=settings(proxy.url, max_retries=2), now=at(240))
    # Each request is tried 3 times; up to max_concurrency (2) requests were in flight.
    assert proxy.failed in (3, 6)
    assert fresh_db.execute("SELECT status FROM collection_runs").fetchall() == [("failed",)]
    assert fresh_db.execute("SELECT count(*) FROM watermarks").fetchone() == (0,)


def test_killed_mid_range_then_rerun_equals_uninterrupted(fleet_prometheus, tmp_path, full_load):
    db = tmp_path / "killed.duckdb"
    script = Path(__file__).with_name("prom_run.py")
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[2]))
    # Small chunks; the proxy lets half of a whole run's requests through, then hangs: the child
    # is mid-range.
    run_args = [at(480).isoformat(), "7200", "600"]
    half = requests_of_a_full_run(fleet_prometheus.url, run_args, tmp_path / "count.duckdb") // 2
    with Proxy(fleet_prometheus.url, hang_after=half) as proxy:
        child = subprocess.Popen(
            [sys.executable, str(script), str(db), proxy.url, *run_args],
            env=env,
        )
        try:
            assert proxy.hanging.wait(60), "collector never reached the hanging request"
        finally:
            os.kill(child.pid, signal.SIGKILL)
            child.wait()
    conn = store.connect(db)
    try:
        partial = conn.execute("SELECT count(*) FROM gpu_samples").fetchone()[0]
        assert 0 < partial < len(full_load["gpu_samples"])
        # the killed run was found dead when the database was opened for writing
        assert conn.execute("SELECT status FROM collection_runs").fetchall() == [("interrupted",)]
        collect(
            conn,
            settings=settings(fleet_prometheus.url, initial_lookback=timedelta(hours=2)),
            now=at(480),
        )
        assert snapshot(conn) == full_load
    finally:
        conn.close()


def test_plan_chunks_respects_point_and_sample_limits():
    window = Window(T0, T0 + timedelta(days=3))
    step = timedelta(seconds=15)
    chunks = plan_chunks(window, step, n_series=10, max_points=11_000, max_samples=10_000_000)
    assert [c.end - c.start for c in chunks[:-1]] == [step * 11_000] * 1
    assert chunks[0].start == window.start and chunks[-1].end == window.end
    assert (
        len(plan_chunks(window, step, n_series=1000, max_points=11_000, max_samples=1_000_000))
        == 18
    )


def test_parse_duration_and_settings_from_env(monkeypatch):
    assert parse_duration("1m30s") == timedelta(seconds=90)
    assert parse_duration("500ms") == timedelta(milliseconds=500)
    with pytest.raises(UsageError):
        parse_duration("15 parsecs")
    monkeypatch.setenv("COSTLAB_PROM_BEARER_TOKEN", "s3cret")
    monkeypatch.setenv("COSTLAB_PROM_HEADERS", '{"X-Scope-OrgID": "team-a"}')
    monkeypatch.setenv("COSTLAB_PROM_VERIFY_TLS", "false")
    monkeypatch.setenv("COSTLAB_PROM_LAG", "5m")
    s = PrometheusSettings(url="http://127.0.0.1:1")
    assert s.bearer_token.get_secret_value() == "s3cret"
    assert s.headers == {"X-Scope-OrgID": "team-a"} and s.verify_tls is False
    assert s.lag == timedelta(minutes=5)
    assert len(GROUPS) == 6


def test_headers_and_token_reach_the_server(fleet_prometheus, fresh_db, monkeypatch):
    seen: list[dict[str, str]] = []
    with Proxy(fleet_prometheus.url) as proxy:
        original = proxy._handle

        def spy(h, body):
            seen.append(dict(h.headers))
            original(h, body)

        proxy._handle = spy
        monkeypatch.setenv("COSTLAB_PROM_BEARER_TOKEN", "s3cret")
        monkeypatch.setenv("COSTLAB_PROM_HEADERS", '{"X-Scope-OrgID": "team-a"}')
        collect(fresh_db, window=Window(T0, at(40)), settings=settings(proxy.url))
    assert seen and all(h.get("Authorization") == "Bearer s3cret" for h in seen)
    assert all(h.get("X-Scope-OrgID") == "team-a" for h in seen)


def test_cli_entry_point_renders_a_summary(fleet_prometheus, tmp_path):
    from rich.console import Console

    console = Console(record=True, width=200)
    db = tmp_path / "cli.duckdb"
    out = collect_from_cli(
        db,
        url=fleet_prometheus.url,
        start=T0.isoformat(),
        end=at(480).isoformat(),
        step="15s",
        cluster="prod",
        console=console,
    )
    console.print(out)
    text = console.export_text()
    assert "backfill" in text and "missing-scrapes" in text and "counter-reset" in text
    conn = store.connect(db)
    assert conn.execute("SELECT DISTINCT cluster FROM nodes").fetchall() == [("prod",)]
    conn.close()
    with pytest.raises(UsageError):
        collect_from_cli(
            db, url=fleet_prometheus.url, start=None, end="2026-11-01", step="15s", cluster=None
        )
