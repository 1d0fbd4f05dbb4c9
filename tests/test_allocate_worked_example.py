"""The worked example of docs/allocation.md, to the micro-dollar.

One p4d.24xlarge (8 x A100, $21.957642/h on-demand in Karpenter's us-east-1 table) lives
00:00-02:00. Team A's pod holds 4 GPUs 00:00-01:30, team B's pod 2 GPUs 00:30-01:30.

Hour 0: capacity 8 GPU-h. A 4 GPU-h, B 1 GPU-h, idle 3 GPU-h of $21.957642:
  A 21.957642*4/8 = 10.978821, B *1/8 = 2.74470525, idle *3/8 = 8.23411575
  -> micro-dollars by largest remainder: A 10978821, B 2744705, idle 8234116.
Hour 1: A 2 GPU-h, B 1 GPU-h, idle 5 GPU-h:
  A 5.4894105, B 2.74470525, idle 13.72352625 -> A 5489411, B 2744705, idle 13723526.
Totals: A $16.468232 (6 GPU-h), B $5.489410 (2 GPU-h), idle $21.957642 (8 GPU-h);
sum $43.915284 = 2 h x $21.957642.
"""

from __future__ import annotations

from datetime import UTC, datetime

import polars as pl
import pytest

from costlab.allocate.gpu import allocate_window
from costlab.allocate.report import report_by
from costlab.collect import sink
from costlab.collect.ec2.snapshot import snapshot_prices
from costlab.timeutil import Window

T0 = datetime(2026, 11, 2, 0, 0, tzinfo=UTC)


def at(h: float) -> datetime:
    return datetime.fromtimestamp(T0.timestamp() + h * 3600, tz=UTC)


@pytest.fixture
def tiny(fresh_db):
    conn = fresh_db
    sink.load(conn, "prices", snapshot_prices().filter(pl.col("instance_type") == "p4d.24xlarge"))
    sink.load(
        conn,
        "nodes",
        pl.DataFrame(
            [
                {
                    "cluster": "c1",
                    "node": "n1",
                    "start_ts": at(0),
                    "end_ts": at(2),
                    "end_reason": "consolidated",
                    "nodepool": "train",
                    "instance_type": "p4d.24xlarge",
                    "capacity_type": "on-demand",
                    "region": "us-east-1",
                    "zone": "us-east-1a",
                    "gpu_count": 8,
                    "gpu_model": "A100",
                }
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
                    "start_ts": at(0),
                    "end_ts": at(1.5),
                    "node": "n1",
                    "quantity": 4.0,
                },
                {
                    "cluster": "c1",
                    "namespace": "b",
                    "pod": "b-0",
                    "container": "main",
                    "gpu_resource": "nvidia.com/gpu",
                    "start_ts": at(0.5),
                    "end_ts": at(1.5),
                    "node": "n1",
                    "quantity": 2.0,
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
                {"cluster": "c1", "namespace": "b", "key": "team", "value": "team-b"},
            ]
        ),
    )
    return conn


def test_request_based_split_is_exact(tiny):
    run = allocate_window(tiny, Window(at(0), at(2)), horizon=at(2))
    assert run.total_node_cost_usd_micros == 43_915_284
    assert run.allocated_usd_micros == 43_915_284
    hourly = tiny.execute(
        "SELECT hour(window_start_ts), team, gpu_cost_usd_micros FROM allocation ORDER BY 1, 2"
    ).fetchall()
    assert hourly == [
        (0, "__idle__", 8_234_116),
        (0, "team-a", 10_978_821),
        (0, "team-b", 2_744_705),
        (1, "__idle__", 13_723_526),
        (1, "team-a", 5_489_411),
        (1, "team-b", 2_744_705),
    ]
    rows = {r.tenant: r for r in report_by(tiny, Window(at(0), at(2)), by="team", idle="separate")}
    assert {t: r.cost_usd_micros for t, r in rows.items()} == {
        "team-a": 16_468_232,
        "team-b": 5_489_410,
        "__idle__": 21_957_642,
    }
    assert {t: r.gpu_hours for t, r in rows.items()} == {
        "team-a": 6.0,
        "team-b": 2.0,
        "__idle__": 8.0,
    }


def test_idle_share_spreads_by_cost(tiny):
    allocate_window(tiny, Window(at(0), at(2)), horizon=at(2))
    rows = {r.tenant: r for r in report_by(tiny, Window(at(0), at(2)), by="team", idle="share")}
    assert set(rows) == {"team-a", "team-b"}
    # idle $21.957642 shared 16468232 : 5489410 -> exactly 16468232 and 5489410 more
    assert rows["team-a"].idle_share_usd_micros == 16_468_232
    assert rows["team-b"].idle_share_usd_micros == 5_489_410
    assert rows["team-a"].cost_usd_micros + rows["team-b"].cost_usd_micros == 43_915_284


def test_allocation_is_idempotent(tiny):
    first = allocate_window(tiny, Window(at(0), at(2)), horizon=at(2))
    before = tiny.execute("SELECT * FROM allocation ORDER BY ALL").fetchall()
    second = allocate_window(tiny, Window(at(0), at(2)), horizon=at(2))
    assert tiny.execute("SELECT * FROM allocation ORDER BY ALL").fetchall() == before
    assert first.total_node_cost_usd_micros == second.total_node_cost_usd_micros


def test_unknown_instance_type_is_reported_not_free(tiny):
    sink.load(
        tiny,
        "nodes",
        pl.DataFrame(
            [
                {
                    "cluster": "c1",
                    "node": "mystery",
                    "start_ts": at(0),
                    "end_ts": at(1),
                    "end_reason": "expired",
                    "nodepool": "x",
                    "instance_type": "p9z.mega",
                    "capacity_type": "on-demand",
                    "region": "us-east-1",
                    "zone": "us-east-1a",
                    "gpu_count": 8,
                    "gpu_model": "B900",
                }
            ]
        ),
    )
    run = allocate_window(tiny, Window(at(0), at(2)), horizon=at(2))
    assert run.total_node_cost_usd_micros == 43_915_284
    assert run.unpriced_node_hours == 1.0
    assert tiny.execute("SELECT instance_type, node_hours FROM unpriced_node_hours").fetchall() == [
        ("p9z.mega", 1.0)
    ]
