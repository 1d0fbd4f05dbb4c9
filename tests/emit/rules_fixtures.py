"""Data and settings the emitter tests share (hand-checked numbers in the comments)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pyarrow as pa

from costlab import store
from costlab.emit.rules_settings import RulesSettings

GOLDEN = Path(__file__).resolve().parent.parent / "golden"

# Hourly cluster totals of the fixture allocation: $10, $20, ... $200 (20 hours of cluster "prod").
# quantile_cont(0.95) of 20 values = v[18] + 0.05 * (v[19] - v[18]) = 190 + 0.5 = $190.50.
FIXTURE_P95_USD = Decimal("190.50")
FIXTURE_FIRST_HOUR = datetime(2026, 9, 1, 0, tzinfo=UTC)
# Budgets chosen so budget / 730 h is a round number: research $25/h, search $10/h.
FIXTURE_BUDGETS = {"research": Decimal(18250), "search": Decimal(7300)}


def fixture_settings(**overrides: object) -> RulesSettings:
    """The settings the golden files and promtool unit tests are generated with."""
    values: dict[str, object] = {"budgets_usd_per_month": dict(FIXTURE_BUDGETS)}
    values.update(overrides)
    return RulesSettings(**values)


def _table(rows: list[dict[str, object]]) -> pa.Table:
    return pa.Table.from_pylist(rows)


def fill_allocation(conn) -> None:
    """20 hours of cluster prod: hour i costs $(10 * (i + 1)), 70 % team research, 30 % idle."""
    rows = []
    for i in range(20):
        start = FIXTURE_FIRST_HOUR + timedelta(hours=i)
        total = (i + 1) * 10_000_000
        for namespace, pod, team, share in (
            ("ml-research", "train-0", "research", 7),
            ("__idle__", "__idle__", "__idle__", 3),
        ):
            rows.append(
                {
                    "window_start_ts": start,
                    "window_end_ts": start + timedelta(hours=1),
                    "cluster": "prod",
                    "nodepool": "gpu-od",
                    "node": "gpu-a",
                    "instance_type": "p4d.24xlarge",
                    "capacity_type": "on-demand",
                    "gpu_model": "A100",
                    "namespace": namespace,
                    "pod": pod,
                    "team": team,
                    "model": "",
                    "gpu_hours": 8.0 * share / 10,
                    "gpu_hours_used": None,
                    "gpu_part_usd_micros": total * share // 10,  # other part 0: charge = GPU part
                }
            )
    store.upsert(conn, "allocation", _table(rows))


def fill_prices_and_nodes(conn) -> None:
    """Prices exercising source priority, zones and effective_from; two GPU nodes.

    In force at 2026-10-01: p4d.24xlarge on-demand us-east-1: manual $18.00 beats pricing-api
    $21.96 (region-wide); g5.12xlarge spot us-east-1b: spot-history $1.9876 (the newer of two rows;
    a 2099 row is not in force yet); g5.12xlarge on-demand region-wide $5.672.
    """
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    prices = [
        ("p4d.24xlarge", "us-east-1", "", "on-demand", "pricing-api", t0, 21_960_000),
        (
            "p4d.24xlarge",
            "us-east-1",
            "",
            "on-demand",
            "manual",
            t0 + timedelta(days=30),
            18_000_000,
        ),
        ("g5.12xlarge", "us-east-1", "us-east-1b", "spot", "spot-history", t0, 2_500_000),
        (
            "g5.12xlarge",
            "us-east-1",
            "us-east-1b",
            "spot",
            "spot-history",
            t0 + timedelta(days=60),
            1_987_600,
        ),
        (
            "g5.12xlarge",
            "us-east-1",
            "us-east-1b",
            "spot",
            "spot-history",
            datetime(2099, 1, 1, tzinfo=UTC),
            9_000_000,
        ),
        ("g5.12xlarge", "us-east-1", "", "on-demand", "pricing-api", t0, 5_672_000),
    ]
    cols = [
        "instance_type",
        "region",
        "zone",
        "capacity_type",
        "source",
        "effective_from",
        "usd_micros_per_hour",
    ]
    store.upsert(conn, "prices", _table([dict(zip(cols, p, strict=True)) for p in prices]))
    nodes = [
        ("gpu-a", "gpu-od", "p4d.24xlarge", "on-demand", "us-east-1a", 8, "A100"),
        ("gpu-b", "gpu-spot", "g5.12xlarge", "spot", "us-east-1b", 4, "A10G"),
    ]
    store.upsert(
        conn,
        "nodes",
        _table(
            [
                {
                    "cluster": "prod",
                    "node": node,
                    "start_ts": t0,
                    "end_ts": None,
                    "end_reason": None,
                    "nodepool": pool,
                    "instance_type": it,
                    "capacity_type": ct,
                    "region": "us-east-1",
                    "zone": zone,
                    "gpu_count": gpus,
                    "gpu_model": model,
                    "gpu_memory_mib": None,
                }
                for node, pool, it, ct, zone, gpus, model in nodes
            ]
        ),
    )
