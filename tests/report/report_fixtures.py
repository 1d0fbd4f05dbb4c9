"""Fixture data for the batch report tests.

`two_week_fleet` (hand-checked): ISO weeks 2026-W44 (Oct 26 - Nov 2) and 2026-W45 (Nov 2 - 9).
  n1 p4d.24xlarge on-demand, 8 x A100, $21.957642/h (shipped snapshot), alive both weeks.
  n2 g5.12xlarge spot, 4 x A10G, $2.000000/h (manual override), alive in W45 only.
  team-a (ns a) holds 4 GPUs on n1 for both weeks; team-b (ns b, pod label model=llama) holds
  2 GPUs on n2 for W45; ns x (no team label) holds 1 GPU on n1 for the first 12 h of W45.
  W44 total = 168 h x $21.957642 = $3,688.883856.
  W45 total = $3,688.883856 + 168 h x $2 = $4,024.883856; team-a = 168 x $10.978821 =
  $1,844.441928; team-b = 168 x $1 = $168.000000; trend = 336 / 3688.883856 = +9.108%.
  LangFuse: 3 requests of model llama in W45 with 2,000,000 tokens -> $168 / 2M = $84 per 1M.

`demo_db` builds the shipped 2-day demo (2026-11-21 to 2026-11-23) once per test session and
caches it in pytest's session temp folder, so every test folder that needs it shares one copy.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl

from costlab import store
from costlab.allocate.gpu import allocate_window
from costlab.collect import sink
from costlab.collect.ec2.snapshot import snapshot_prices
from costlab.timeutil import Window

W44 = Window(datetime(2026, 10, 26, tzinfo=UTC), datetime(2026, 11, 2, tzinfo=UTC))
W45 = Window(datetime(2026, 11, 2, tzinfo=UTC), datetime(2026, 11, 9, tzinfo=UTC))
W44_TOTAL_MICROS = 3_688_883_856
W45_TOTAL_MICROS = 4_024_883_856
W45_TEAM_A_MICROS = 1_844_441_928
W45_TEAM_B_MICROS = 168_000_000


def build_two_week_fleet(path: Path) -> dict[str, int]:
    """Write the hand-checked fleet into a database file; returns the allocation run totals."""
    conn = store.connect(path)
    try:
        prices = snapshot_prices().filter(
            pl.col("instance_type").is_in(["p4d.24xlarge", "g5.12xlarge"])
        )
        sink.load(conn, "prices", prices)
        sink.load(
            conn,
            "prices",
            pl.DataFrame(
                [
                    {
                        "instance_type": "g5.12xlarge",
                        "region": "us-east-1",
                        "zone": "",
                        "capacity_type": "spot",
                        "source": "manual",
                        "effective_from": datetime(2026, 1, 1, tzinfo=UTC),
                        "usd_micros_per_hour": 2_000_000,
                    }
                ]
            ),
        )
        sink.load(
            conn,
            "nodes",
            pl.DataFrame(
                [
                    {
                        "cluster": "c1",
                        "node": "n1",
                        "start_ts": W44.start,
                        "end_ts": W45.end,
                        "end_reason": "consolidated",
                        "nodepool": "train",
                        "instance_type": "p4d.24xlarge",
                        "capacity_type": "on-demand",
                        "region": "us-east-1",
                        "zone": "us-east-1b",
                        "gpu_count": 8,
                        "gpu_model": "A100",
                    },
                    {
                        "cluster": "c2",
                        "node": "n2",
                        "start_ts": W45.start,
                        "end_ts": W45.end,
                        "end_reason": "interrupted",
                        "nodepool": "serve-spot",
                        "instance_type": "g5.12xlarge",
                        "capacity_type": "spot",
                        "region": "us-east-1",
                        "zone": "us-east-1a",
                        "gpu_count": 4,
                        "gpu_model": "A10G",
                    },
                ]
            ),
        )
        sink.load(
            conn,
            "pod_gpu_requests",
            pl.DataFrame(
                [
                    {
                        "cluster": "c1",
                        "namespace": "a",
                        "pod": "a-0",
                        "container": "main",
                        "gpu_resource": "nvidia.com/gpu",
                        "start_ts": W44.start,
                        "end_ts": W45.end,
                        "node": "n1",
                        "quantity": 4.0,
                    },
                    {
                        "cluster": "c2",
                        "namespace": "b",
                        "pod": "b-0",
                        "container": "main",
                        "gpu_resource": "nvidia.com/gpu",
                        "start_ts": W45.start,
                        "end_ts": W45.end,
                        "node": "n2",
                        "quantity": 2.0,
                    },
                    {
                        "cluster": "c1",
                        "namespace": "x",
                        "pod": "x-0",
                        "container": "main",
                        "gpu_resource": "nvidia.com/gpu",
                        "start_ts": W45.start,
                        "end_ts": W45.start + timedelta(hours=12),
                        "node": "n1",
                        "quantity": 1.0,
                    },
                ]
            ),
        )
        sink.load(
            conn,
            "namespace_labels",
            pl.DataFrame(
                [
                    {"cluster": "c1", "namespace": "a", "key": "team", "value": "team-a"},
                    {"cluster": "c2", "namespace": "b", "key": "team", "value": "team-b"},
                ]
            ),
        )
        sink.load(
            conn,
            "pod_labels",
            pl.DataFrame(
                [
                    {
                        "cluster": "c2",
                        "namespace": "b",
                        "pod": "b-0",
                        "key": "model",
                        "value": "llama",
                    },
                ]
            ),
        )
        sink.load(
            conn,
            "llm_observations",
            pl.DataFrame(
                [
                    {
                        "observation_id": f"o{i}",
                        "trace_id": f"t{i}",
                        "tenant": "team-b",
                        "model": "llama",
                        "start_ts": W45.start + timedelta(hours=10 * (i + 1)),
                        "input_tokens": tin,
                        "output_tokens": tout,
                        "total_tokens": tin + tout,
                    }
                    for i, (tin, tout) in enumerate(
                        [(500_000, 250_000), (400_000, 350_000), (100_000, 400_000)]
                    )
                ]
            ),
        )
        totals = {}
        for name, week in (("W44", W44), ("W45", W45)):
            run = allocate_window(conn, week, W45.end)
            totals[name] = run.total_node_cost_usd_micros
        return totals
    finally:
        conn.close()


def demo_db(base: Path) -> Path:
    """The 2-day demo database, generated once into `base` (pytest's session temp folder)."""
    from costlab.demo.run import load_demo

    path = base / "costlab-demo-2d.duckdb"
    if path.exists():
        return path
    tmp = base / "costlab-demo-2d.partial.duckdb"
    tmp.unlink(missing_ok=True)
    conn = store.connect(tmp)
    try:
        window = load_demo(conn, days=2, seed=42)
        allocate_window(conn, window, window.end)
    finally:
        conn.close()
    tmp.rename(path)
    return path
