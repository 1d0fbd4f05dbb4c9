"""EC2 on-demand list prices from the AWS Pricing API (`pricing:GetProducts`).

The Pricing API answers from us-east-1 for every region. Filters pin the price a Linux node in
shared tenancy actually pays: operatingSystem Linux, tenancy Shared, preInstalledSw NA,
capacitystatus Used. Each product's OnDemand terms become one `prices` row per term effective
date (so history is kept, not just the latest). A price of $0 is never stored: it is reported.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

import polars as pl
from botocore.exceptions import BotoCoreError, ClientError

from costlab.errors import CollectorError
from costlab.money import usd_to_micros
from costlab.timeutil import parse_ts

log = logging.getLogger(__name__)

PRICING_REGION = "us-east-1"
PRICES_SCHEMA: dict[str, Any] = {
    "instance_type": pl.String,
    "region": pl.String,
    "zone": pl.String,
    "capacity_type": pl.String,
    "source": pl.String,
    "effective_from": pl.Datetime("us", "UTC"),
    "usd_micros_per_hour": pl.Int64,
}


def product_filters(region: str, instance_type: str | None = None) -> list[dict[str, str]]:
    """TERM_MATCH filters for Linux, shared-tenancy, no pre-installed software, used capacity."""
    wanted = {
        "regionCode": region,
        "operatingSystem": "Linux",
        "tenancy": "Shared",
        "preInstalledSw": "NA",
        "capacitystatus": "Used",
    }
    if instance_type:
        wanted["instanceType"] = instance_type
    return [{"Type": "TERM_MATCH", "Field": k, "Value": v} for k, v in wanted.items()]


@dataclass
class OnDemandResult:
    rows: list[dict[str, Any]] = field(default_factory=list)
    zero_priced: list[str] = field(default_factory=list)  # instance types AWS listed at $0/h
    unparsable: int = 0

    def frame(self) -> pl.DataFrame:
        return pl.DataFrame(self.rows, schema=PRICES_SCHEMA)


def parse_price_item(item: str | Mapping[str, Any], region: str, result: OnDemandResult) -> None:
    """Append the hourly OnDemand prices of one PriceList entry (a JSON string) to `result`."""
    doc = json.loads(item) if isinstance(item, str) else item
    attrs = doc.get("product", {}).get("attributes", {})
    instance_type = attrs.get("instanceType")
    if not instance_type:
        result.unparsable += 1
        return
    for term in (doc.get("terms", {}).get("OnDemand") or {}).values():
        effective = parse_ts(term["effectiveDate"])
        for dim in (term.get("priceDimensions") or {}).values():
            if dim.get("unit") != "Hrs":
                continue
            try:
                usd = Decimal(dim["pricePerUnit"]["USD"])
            except (KeyError, InvalidOperation):
                result.unparsable += 1
                continue
            if usd <= 0:
                result.zero_priced.append(instance_type)
                continue
            result.rows.append(
                {
                    "instance_type": instance_type,
                    "region": attrs.get("regionCode") or region,
                    "zone": "",
                    "capacity_type": "on-demand",
                    "source": "pricing-api",
                    "effective_from": effective,
                    "usd_micros_per_hour": usd_to_micros(usd),
                }
            )


def fetch_ondemand(pricing: Any, region: str, instance_types: Iterable[str] = ()) -> OnDemandResult:
    """All on-demand Linux prices for `region` (or only `instance_types`), paginated."""
    result = OnDemandResult()
    wanted = sorted(set(instance_types))
    queries = [product_filters(region, t) for t in wanted] or [product_filters(region)]
    try:
        for filters in queries:
            pages = pricing.get_paginator("get_products").paginate(
                ServiceCode="AmazonEC2", Filters=filters, FormatVersion="aws_v1", MaxResults=100
            )
            for page in pages:
                for item in page.get("PriceList", []):
                    parse_price_item(item, region, result)
    except (BotoCoreError, ClientError) as exc:
        raise CollectorError(f"AWS Pricing API failed for {region}: {exc}") from exc
    log.info("pricing api %s: %d on-demand price(s)", region, len(result.rows))
    return result
