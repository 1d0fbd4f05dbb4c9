"""Sharding by cluster with bounded fetch concurrency, against a real Prometheus.

The TSDB holds the fleet of prom_fleet.py twice, as `cluster="east"` (all of it) and
`cluster="west"` (without node-c and what ran on it). An unsharded run reads both through the
`cluster` label; a sharded run (`clusters=["east", "west"]`) queries each with its own
`cluster="..."` matcher and keeps watermarks per cluster. Both must write exactly the same rows.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import polars as pl
import pytest
from prom_fleet import T0, TYPES, at, fleet_series
from prom_server import PromServer, Proxy, build_blocks, requests_of_a_full_run, write_openmetrics
from prom_snapshot import backfill_snapshot, settings, snapshot

from costlab import store
from costlab.collect.prometheus import GROUPS, NODES, PrometheusSettings, collect
from costlab.collect.prometheus import run as prom_run
from costlab.collect.prometheus.query import Query, shard_matchers, with_cluster
from costlab.errors import UsageError
from costlab.timeutil import Window

FULL = Window(T0, at(480))
CLUSTERS = ["east", "west"]


def cluster_fleet() -> list:
    out = []
    for metric, labels, samples in fleet_series():
        out.append((metric, labels | {"cluster": "east"}, samples))
        hosts = {labels.get("Hostname"), labels.get("node"), labels.get("node_name")}
        if "node-c" not in hosts:
            out.append((metric, labels | {"cluster": "west"}, samples))
    return out


def sharded(url: str, **kw) -> PrometheusSettings:
    return settings(url, clusters=CLUSTERS, max_concurrency=3, **kw)


@pytest.fixture(scope="module")
def clusters_prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PromServer]:
    root = tmp_path_factory.mktemp("prom-clusters")
    write_openmetrics(root / "fleet.om", cluster_fleet(), TYPES)
    build_blocks(root / "fleet.om", root / "data")
    with PromServer(root / "data") as server:
        yield server


@pytest.fixture(scope="module")
def unsharded(clusters_prometheus) -> dict[str, list[tuple]]:
    """The reference: one unsharded backfill, clusters from the `cluster` label."""
    return backfill_snapshot(clusters_prometheus.url, FULL)


@pytest.mark.service
def test_the_reference_has_both_clusters(unsharded):
    nodes = {(r[0], r[1]) for r in unsharded["nodes"]}
    assert {c for c, _ in nodes} == {"east", "west"}
    assert ("east", "node-c") in nodes and ("west", "node-c") not in nodes
    assert ("west", "node-a") in nodes


@pytest.mark.service
def test_sharded_backfill_equals_unsharded(clusters_prometheus, fresh_db, unsharded):
    # Small chunks (300 samples per query) so the clusters' chunks interleave in the pool.
    with Proxy(clusters_prometheus.url) as proxy:
        report = collect(
            fresh_db, window=FULL, settings=sharded(proxy.url, max_samples_per_query=300)
        )
    assert snapshot(fresh_db) == unsharded
    assert {(g.name, g.cluster) for g in report.groups} == {
        (g.name, c) for g in GROUPS for c in CLUSTERS
    }
    assert all(g.chunks > 1 for g in report.groups if g.name != "prices")
    # Every selector of every query carries the shard's cluster matcher.
    queries = [q for q, _ in proxy.range_starts()]
    for query in queries:
        selectors = query.count("{")
        assert selectors == query.count('cluster="east"') or selectors == query.count(
            'cluster="west"'
        ), query
    assert {c for c in CLUSTERS if any(f'cluster="{c}"' in q for q in queries)} == set(CLUSTERS)


@pytest.mark.service
def test_sharded_incremental_runs_keep_watermarks_per_cluster(
    clusters_prometheus, fresh_db, unsharded
):
    s = sharded(clusters_prometheus.url, initial_lookback=timedelta(hours=1))
    collect(fresh_db, settings=s, now=at(240))
    marks = fresh_db.execute("SELECT series, loaded_until_ts FROM watermarks").fetchall()
    names = {q.name for g in GROUPS for q in g.queries}
    assert {m for m, _ in marks} == {f"{n}@{c}" for n in names for c in CLUSTERS}
    assert {ts for m, ts in marks if "price" not in m} == {at(240)}
    collect(fresh_db, settings=s, now=at(480))
    assert snapshot(fresh_db) == unsharded


@pytest.mark.service
def test_sharded_run_killed_mid_range_then_rerun_equals_unsharded(
    clusters_prometheus, tmp_path, unsharded
):
    db = tmp_path / "killed.duckdb"
    script = Path(__file__).with_name("prom_run.py")
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[2]))
    args = [str(db), at(480).isoformat(), "7200", "600", ",".join(CLUSTERS), "3"]
    half = requests_of_a_full_run(clusters_prometheus.url, args[1:], tmp_path / "count.duckdb") // 2
    with Proxy(clusters_prometheus.url, hang_after=half) as proxy:
        child = subprocess.Popen(
            [sys.executable, str(script), args[0], proxy.url, *args[1:]], env=env
        )
        try:
            assert proxy.hanging.wait(90), "collector never reached the hanging request"
        finally:
            os.kill(child.pid, signal.SIGKILL)
            child.wait()
    conn = store.connect(db)
    try:
        partial = conn.execute("SELECT count(*) FROM gpu_samples").fetchone()[0]
        full = len(unsharded["gpu_samples"])
        assert 0 < partial < full
        s = sharded(clusters_prometheus.url, initial_lookback=timedelta(hours=2))
        collect(conn, settings=s, now=at(480))
        assert snapshot(conn) == unsharded
    finally:
        conn.close()


@pytest.mark.service
def test_chunks_in_memory_stay_within_concurrency_plus_one(
    clusters_prometheus, fresh_db, unsharded, monkeypatch
):
    """A chunk is held from the start of its fetch to the end of its load."""
    lock = threading.Lock()
    seen = {"held": 0, "most_held": 0, "running": 0, "most_running": 0, "chunks": 0}
    fetch, load = prom_run.fetch_chunk, prom_run.load_chunk

    def tracked_fetch(*args, **kwargs):
        with lock:
            seen["held"] += 1
            seen["running"] += 1
            seen["most_held"] = max(seen["most_held"], seen["held"])
            seen["most_running"] = max(seen["most_running"], seen["running"])
        try:
            time.sleep(0.02)  # slow enough that the pool fills up
            return fetch(*args, **kwargs)
        finally:
            with lock:
                seen["running"] -= 1

    def tracked_load(*args, **kwargs):
        try:
            return load(*args, **kwargs)
        finally:
            with lock:
                seen["held"] -= 1
                seen["chunks"] += 1

    monkeypatch.setattr(prom_run, "fetch_chunk", tracked_fetch)
    monkeypatch.setattr(prom_run, "load_chunk", tracked_load)
    s = sharded(clusters_prometheus.url, max_samples_per_query=300)
    report = collect(fresh_db, window=FULL, settings=s)
    assert seen["chunks"] == sum(g.chunks for g in report.groups) > 100
    assert seen["most_running"] == 3  # the pool was used to the full ...
    assert seen["most_held"] <= 3 + 1  # ... and never held more than concurrency + 1 chunks
    assert seen["held"] == 0
    assert snapshot(fresh_db) == unsharded


def test_cluster_label_and_shard_matchers():
    s = PrometheusSettings(url="http://x", clusters=["prod"], cluster_label="k8s_cluster")
    assert shard_matchers(s, "prod") == 'k8s_cluster="prod"'
    assert shard_matchers(s, None) == ""
    odd = PrometheusSettings(url="http://x", extra_matchers='env="a"')
    assert shard_matchers(odd, 'we"ird') == 'env="a",cluster="we\\"ird"'
    dcgm = NODES.queries[-1]
    assert dcgm.promql("14999ms", shard_matchers(s, "prod"), "k8s_cluster") == (
        "count by (k8s_cluster, Hostname, hostname, modelName) (count by (k8s_cluster, Hostname, "
        'hostname, modelName, UUID) (last_over_time(DCGM_FI_DEV_FB_USED{k8s_cluster="prod"}'
        "[14999ms])))"
    )
    info = Query("kube_pod_info", only_with=Query("r"))
    assert " and on (k8s_cluster, namespace, pod) " in info.promql("1s", "", "k8s_cluster")
    frame = pl.DataFrame({"metric": ["m"], "k8s_cluster": ["prod"], "cluster": ["inner"]})
    assert with_cluster(frame, s)["cluster"].to_list() == ["prod"]
    assert with_cluster(frame, s, "east")["cluster"].to_list() == ["east"]
    with pytest.raises(UsageError, match="not both"):
        PrometheusSettings(url="http://x", cluster="a", clusters=["b"])
    with pytest.raises(UsageError, match="distinct"):
        PrometheusSettings(url="http://x", clusters=["a", "a"])
