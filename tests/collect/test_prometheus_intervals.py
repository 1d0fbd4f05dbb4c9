"""Scrape intervals: the collector's step is never shorter than a series' scrape interval, so a
fleet scraped every 15 s, 30 s, 60 s, with jitter, or with a too-short `--step`, costs the same.

A real Prometheus serves the fleet of prom_interval_fleet.py, one cluster per scrape setup; each
case collects one cluster (a `clusters` shard) and allocates it against manual prices.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from prom_interval_fleet import END, NODE_A, NODE_B, T0, fleet_series
from prom_server import PromServer, build_blocks, write_openmetrics
from prom_snapshot import settings

from costlab import store
from costlab.allocate.gpu import allocate_window
from costlab.collect.prometheus import collect, collect_from_cli, make_client, render
from costlab.collect.prometheus.scrape_intervals import (
    detect_scrape_intervals,
    measure_scrape_interval,
    safe_step,
)
from costlab.timeutil import Window

pytestmark = pytest.mark.service

WINDOW = Window(T0, END)
S = timedelta(seconds=1)


@pytest.fixture(scope="module")
def prom(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PromServer]:
    root = tmp_path_factory.mktemp("prom-intervals")
    write_openmetrics(root / "fleet.om", fleet_series(), {})
    build_blocks(root / "fleet.om", root / "data")
    with PromServer(root / "data") as server:
        yield server


def test_detect_scrape_intervals(prom):
    client = make_client(settings(prom.url))
    try:
        metrics = ["DCGM_FI_DEV_GPU_UTIL", "kube_node_labels", "DCGM_FI_PROF_GR_ENGINE_ACTIVE"]

        def detect(cluster: str) -> dict[str, timedelta | None]:
            return detect_scrape_intervals(client, metrics, END, matchers=f'cluster="{cluster}"')

        none = {"DCGM_FI_PROF_GR_ENGINE_ACTIVE": None}  # not exported by this fleet
        assert detect("scrape-15s") == {m: 15 * S for m in metrics[:2]} | none
        assert detect("scrape-60s") == {m: 60 * S for m in metrics[:2]} | none
        assert detect("mixed-15s-60s") == {metrics[0]: 15 * S, metrics[1]: 60 * S} | none
        # Jitter of up to 2 s each way: the longest gap between two scrapes is up to 19 s, so a
        # 15 s window can miss every scrape; the safe step is the next round one.
        jitter = measure_scrape_interval(client, 'kube_node_labels{cluster="jitter-15s"}', END)
        assert jitter is not None and jitter.series == 1
        assert abs(jitter.typical - 15 * S) < S and 16 * S < jitter.longest <= 19 * S
        assert safe_step(jitter.longest) == 20 * S
        # Without a cluster matcher: the slowest job exporting the metric decides.
        assert detect_scrape_intervals(client, ["kube_node_labels"], END) == {
            "kube_node_labels": 60 * S
        }
    finally:
        client.close()


def test_safe_step_rounds_up_to_round_steps():
    assert [safe_step(x * S).total_seconds() for x in (0.5, 15, 15.004, 29, 61, 3601)] == [
        1,
        15,
        20,
        30,
        90,
        3660,
    ]


PRICES = [
    ("g5.12xlarge", "on-demand", 5_672_000),
    ("g5.xlarge", "spot", 400_000),
]
# (namespace, GPU-hours requested, micro-dollars): hand-computed in prom_interval_fleet.py
FULL = [("team-a", 8.0, 11_344_000), ("team-b", 1.0, 400_000)]
NODE_A_ONLY = FULL[:1]


def _allocate(conn) -> list[tuple]:
    for itype, cap, micros in PRICES:
        conn.execute(
            "INSERT INTO prices VALUES ($1, 'us-east-1', '', $2, 'manual', $3, $4)",
            [itype, cap, T0 - timedelta(days=1), micros],
        )
    run = allocate_window(conn, WINDOW, horizon=END)
    assert run.allocated_usd_micros == run.total_node_cost_usd_micros
    return conn.execute(
        "SELECT namespace, sum(gpu_hours), sum(gpu_cost_usd_micros) FROM allocation "
        "WHERE gpu_hours > 0 GROUP BY ALL ORDER BY ALL"
    ).fetchall()


def _rendered(report) -> str:
    from rich.console import Console

    console = Console(record=True, width=250)
    console.print(render(report))
    return console.export_text()


def _gpu_hours(conn) -> list[tuple]:
    """GPU-hours of DCGM samples per node: each sample stands for its sample_ms."""
    return conn.execute(
        "SELECT node, sum(sample_ms) / 3600000 FROM gpu_samples GROUP BY ALL ORDER BY ALL"
    ).fetchall()


@pytest.mark.parametrize(
    ("cluster", "step", "steps", "expected"),
    [
        ("scrape-15s", None, (15, 15, 15), FULL),
        ("scrape-30s", None, (30, 30, 30), FULL),
        ("scrape-60s", None, (60, 60, 60), FULL),  # a 15 s step would keep a quarter
        ("scrape-15s", timedelta(seconds=7), (15, 15, 15), FULL),  # raised, with a warning
        # A longer step is kept (ends then round up to it: node A runs past the window).
        ("mixed-15s-60s", timedelta(minutes=2), (120, 120, 120), NODE_A_ONLY),
        ("jitter-15s", None, (20, 20, 20), NODE_A_ONLY),
        ("mixed-15s-60s", None, (60, 60, 15), NODE_A_ONLY),  # each group its own step
    ],
)
def test_every_scrape_interval_costs_the_same(prom, fresh_db, cluster, step, steps, expected):
    s = settings(prom.url, clusters=[cluster], step=step)
    report = collect(fresh_db, window=WINDOW, settings=s)
    got = {g.name: g.step for g in report.groups}
    assert (got["nodes"], got["pod_gpu_requests"], got["gpu_samples"]) == tuple(
        x * S for x in steps
    )
    assert (
        fresh_db.execute(
            "SELECT node, start_ts, end_ts, gpu_count FROM nodes ORDER BY node"
        ).fetchall()
        == [(NODE_A, T0, None, 4), (NODE_B, T0, T0 + timedelta(hours=1), 1)][: len(expected)]
    )
    hours = [(NODE_A, 8.0), (NODE_B, 1.0)][: len(expected)]
    assert _gpu_hours(fresh_db) == hours
    assert _allocate(fresh_db) == expected
    gaps = fresh_db.execute("SELECT kind, series FROM collection_gaps").fetchall()
    assert gaps == []
    raised = [w for w in report.warnings if "shorter than the scrape interval" in w]
    if step == timedelta(seconds=7):
        assert raised[0] == (
            "nodes in cluster scrape-15s: step 7s is shorter than the scrape interval of "
            "kube_node_labels (15s); collected at 15s so that no scrape is lost"
        )
        assert len(raised) == 3  # nodes, pods, gpu_samples (no labels or counters here)
        text = _rendered(report)
        assert "step 7s is shorter than the scrape interval" in text
        row = next(line for line in text.splitlines() if "gpu_samples@scrape-15s" in line)
        cells = [c.strip() for c in row.split("│")]
        assert cells[4:6] == ["15s", "15s"]  # scrape interval, step
    else:
        assert raised == []
    assert report.scrape_intervals[f"DCGM_FI_DEV_GPU_UTIL@{cluster}"] >= 15 * S


def test_step_from_file_and_environment_is_not_overridden(prom, tmp_path, monkeypatch):
    """--step unset: costlab.toml's [prometheus] step, then COSTLAB_PROM_STEP, win (#14)."""
    config = tmp_path / "costlab.toml"
    config.write_text('[prometheus]\nstep = "30s"\nclusters = ["scrape-15s"]\n')
    monkeypatch.setenv("COSTLAB_CONFIG", str(config))
    args = {"url": prom.url, "start": T0.isoformat(), "end": END.isoformat(), "cluster": None}

    def sample_ms(db: str, **kw) -> list[tuple]:
        collect_from_cli(tmp_path / db, **args, **kw)
        conn = store.connect(tmp_path / db)
        try:
            return conn.execute("SELECT DISTINCT sample_ms FROM gpu_samples").fetchall()
        finally:
            conn.close()

    assert sample_ms("file.duckdb", step=None) == [(30_000,)]
    monkeypatch.setenv("COSTLAB_PROM_STEP", "1m")
    assert sample_ms("env.duckdb", step=None) == [(60_000,)]
    assert sample_ms("cli.duckdb", step="45s") == [(45_000,)]
    monkeypatch.delenv("COSTLAB_PROM_STEP")
    auto = tmp_path / "auto.toml"
    auto.write_text('[prometheus]\nclusters = ["scrape-60s"]\n')
    monkeypatch.setenv("COSTLAB_CONFIG", str(auto))
    assert sample_ms("auto.duckdb", step=None) == [(60_000,)]  # auto: the scrape interval


@pytest.mark.parametrize(("cluster", "kept"), [("scrape-60s", 2.25), ("jitter-15s", 6.0167)])
def test_a_step_below_the_scrape_interval_would_lose_time(
    prom, fresh_db, monkeypatch, cluster, kept
):
    """The control: forced to 15 s, the same fleets lose GPU time (of 9 and 8 GPU-hours)."""
    from costlab.collect.prometheus import plan

    monkeypatch.setattr(plan, "safe_step", lambda interval: 15 * S)
    collect(fresh_db, window=WINDOW, settings=settings(prom.url, clusters=[cluster]))
    lost = fresh_db.execute("SELECT sum(sample_ms) / 3600000 FROM gpu_samples").fetchone()[0]
    assert lost == pytest.approx(kept, abs=1e-4)


def test_a_step_change_between_runs_counts_the_overlap_once(prom, fresh_db):
    """The same window collected at 15 s and then again at 60 s: where the 60 s samples now stand,
    the 15 s ones are gone, so no second of a series is counted on both grids (a tail the 60 s grid
    does not reach keeps its 15 s samples), and the allocation is unchanged."""
    collect(fresh_db, window=WINDOW, settings=settings(prom.url, clusters=["scrape-15s"]))
    assert _gpu_hours(fresh_db) == [(NODE_A, 8.0), (NODE_B, 1.0)]
    again = settings(prom.url, clusters=["scrape-15s"], step=timedelta(minutes=1))
    collect(fresh_db, window=WINDOW, settings=again)
    overlapping = fresh_db.execute(
        "SELECT count(*) FROM (SELECT ts, sample_ms, lag(ts) OVER (PARTITION BY node, gpu_uuid, "
        "mig_instance_id ORDER BY ts) AS prev FROM gpu_samples) "
        "WHERE ts - to_milliseconds(sample_ms) < prev"
    ).fetchone()
    assert overlapping == (0,)
    assert (
        fresh_db.execute("SELECT count(*) FROM gpu_samples WHERE sample_ms = 60000").fetchone()[0]
        > 0
    )
    # The same dollars as a database collected at 60 s only (a 60 s step over a 15 s scrape
    # ends intervals up to one step late: that is the step's, not the reload's, doing).
    only_60s = store.connect(":memory:")
    try:
        collect(only_60s, window=WINDOW, settings=again)
        assert _allocate(fresh_db) == _allocate(only_60s)
    finally:
        only_60s.close()
