"""EC2 spot price history per availability zone (`ec2:DescribeSpotPriceHistory`, paginated).

Every price change is a row keyed by (instance type, region, zone, effective_from), so the
full history is kept. AWS also returns the price in force at StartTime, which makes the first
row of each zone cover the start of the window.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

import polars as pl
from botocore.exceptions import BotoCoreError, ClientError

from costlab.collect.ec2.pricing_api import PRICES_SCHEMA
from costlab.errors import CollectorError
from costlab.money import usd_to_micros

log = logging.getLogger(__name__)

PRODUCT = "Linux/UNIX"
BATCH = 20  # instance types per request, to keep each query small


def fetch_spot(
    ec2: Any, region: str, instance_types: list[str], start: datetime, end: datetime
) -> pl.DataFrame:
    """Spot prices for `instance_types` in `region` between start and end, one row per change.

    Output grain: (instance_type, region, zone, effective_from); money in micro-dollars/hour.
    """
    rows: list[dict[str, Any]] = []
    types = sorted(set(instance_types))
    try:
        for i in range(0, len(types), BATCH):
            pages = ec2.get_paginator("describe_spot_price_history").paginate(
                InstanceTypes=types[i : i + BATCH],
                ProductDescriptions=[PRODUCT],
                StartTime=start,
                EndTime=end,
            )
            for page in pages:
                for rec in page.get("SpotPriceHistory", []):
                    rows.append(
                        {
                            "instance_type": rec["InstanceType"],
                            "region": region,
                            "zone": rec["AvailabilityZone"],
                            "capacity_type": "spot",
                            "source": "spot-history",
                            "effective_from": rec["Timestamp"],
                            "usd_micros_per_hour": usd_to_micros(rec["SpotPrice"]),
                        }
                    )
    except (BotoCoreError, ClientError) as exc:
        raise CollectorError(f"EC2 spot price history failed for {region}: {exc}") from exc
    log.info("spot history %s: %d price change(s)", region, len(rows))
    return pl.DataFrame(rows, schema=PRICES_SCHEMA)
