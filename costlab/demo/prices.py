"""Demo price records: the shipped on-demand snapshot, plus spot price history per zone.

Spot history is what `describe_spot_price_history` returns: a price per instance type and zone
that changes a few times a day. The level is the on-demand list price times the family's spot
ratio (profiles.SPOT_PRICE_RATIO); the walk is seeded.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
import polars as pl

from costlab.collect.ec2.snapshot import snapshot_prices
from costlab.demo import profiles as P
from costlab.demo.fleet import Fleet
from costlab.demo.workload import Workload

# us-west-2 lists the same on-demand prices as us-east-1 for the G5/P4d/P5 families (AWS EC2
# on-demand pricing page); the shipped snapshot is us-east-1 only, so the demo reuses it there.
REGION_PRICE_SOURCES = {"us-west-2": "us-east-1"}


def price_records(
    fleet: Fleet, w: Workload, start: datetime, rng: np.random.Generator
) -> pl.DataFrame:
    snapshot = snapshot_prices()
    used = sorted({n.instance_type for n in w.nodes})
    ondemand = snapshot.filter(pl.col("instance_type").is_in(used))
    regional = [ondemand] + [
        ondemand.filter(pl.col("region") == src).with_columns(pl.lit(dst).alias("region"))
        for dst, src in REGION_PRICE_SOURCES.items()
    ]
    spot_rows = []
    # Spot history exists for every GPU type in every zone of the clusters that run it, spot or
    # not: describe_spot_price_history returns it regardless, and the simulator needs it to price
    # moving on-demand workloads to spot.
    zones_of = {c.name: c.zones for c in fleet.clusters}
    spot_keys = sorted({(n.instance_type, z) for n in w.nodes for z in zones_of[n.cluster]})
    od_price = dict(zip(ondemand["instance_type"], ondemand["usd_micros_per_hour"], strict=True))
    changes = int(w.n_minutes / 60 / P.SPOT_PRICE_CHANGE_HOURS) + 2
    for itype, zone in spot_keys:
        family = itype.split(".")[0]
        level = od_price[itype] * P.SPOT_PRICE_RATIO[family]
        walk = np.exp(np.cumsum(rng.normal(0.0, P.SPOT_PRICE_WALK_SIGMA, size=changes)))
        for k in range(changes):
            spot_rows.append(
                {
                    "instance_type": itype,
                    "region": zone[:-1],
                    "zone": zone,
                    "capacity_type": "spot",
                    "source": "spot-history",
                    "effective_from": start + timedelta(hours=P.SPOT_PRICE_CHANGE_HOURS * (k - 1)),
                    "usd_micros_per_hour": int(
                        round(min(level * walk[k], od_price[itype]) / 100) * 100
                    ),
                }
            )
    spot = pl.DataFrame(spot_rows, schema=regional[0].schema)
    return pl.concat(regional + [spot])
