"""sql/allocate/price_periods.sql, the one price resolution, against the rule written out plainly.

The rule (docs/allocation.md): at each change point, among the rows in force (effective_from at
or before it) for the key's zone or its region (zone ''), a manual override wins (zone-specific
before region-wide), then zone-specific before region-wide, then source rank spot-history <
pricing-api < karpenter-estimate < snapshot, then the latest effective_from.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

import pyarrow as pa
import pytest

from costlab import store

SOURCES = ("manual", "spot-history", "pricing-api", "karpenter-estimate", "snapshot")
RANK = {"spot-history": 1, "pricing-api": 2, "karpenter-estimate": 3, "snapshot": 4, "manual": 4}
T0 = datetime(2026, 1, 1, tzinfo=UTC)


def random_prices(seed: int) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    rows: dict[tuple[object, ...], dict[str, Any]] = {}
    for _ in range(rng.randint(1, 80)):
        row = {
            "instance_type": rng.choice(["p4d.24xlarge", "g5.12xlarge"]),
            "region": "us-east-1",
            "zone": rng.choice(["", "us-east-1a", "us-east-1b"]),
            "capacity_type": rng.choice(["spot", "on-demand"]),
            "source": rng.choice(SOURCES),
            "effective_from": T0 + timedelta(hours=rng.randint(0, 40)),
            "usd_micros_per_hour": rng.randint(1, 60_000_000),
        }
        rows[tuple(v for k, v in row.items() if k != "usd_micros_per_hour")] = row
    return list(rows.values())


def resolve_plainly(prices: list[dict[str, Any]]) -> list[tuple[object, ...]]:
    """Every key the prices know, resolved at each of its change points by the rule itself."""
    keys = {(p["instance_type"], p["region"], p["zone"], p["capacity_type"]) for p in prices}
    out = []
    for it, region, zone, ct in keys:
        candidates = [
            p
            for p in prices
            if (p["instance_type"], p["region"], p["capacity_type"]) == (it, region, ct)
            and p["zone"] in (zone, "")
        ]
        points = sorted({p["effective_from"] for p in candidates})
        for i, at in enumerate(points):
            in_force = [p for p in candidates if p["effective_from"] <= at]
            best = min(
                in_force,
                key=lambda p: (
                    p["source"] != "manual",
                    p["zone"] == "",
                    RANK[p["source"]],
                    -p["effective_from"].timestamp(),
                ),
            )
            until = points[i + 1] if i + 1 < len(points) else None
            out.append((it, region, zone, ct, best["usd_micros_per_hour"], at, until))
    return sorted(out, key=repr)


@pytest.mark.parametrize("seed", range(25))
def test_price_periods_follow_the_rule(fresh_db, seed):
    prices = random_prices(seed)
    store.upsert(fresh_db, "prices", pa.Table.from_pylist(prices))
    # every key the prices table knows, as the simulator and the exporter resolve them
    fresh_db.execute(store.load_sql("simulate/price_keys"))
    fresh_db.execute(store.load_sql("allocate/price_periods"))
    got = fresh_db.execute(
        "SELECT instance_type, region, zone, capacity_type, usd_micros_per_hour, from_ts, until_ts "
        "FROM alloc_price_periods"
    ).fetchall()
    assert sorted(got, key=repr) == resolve_plainly(prices)
