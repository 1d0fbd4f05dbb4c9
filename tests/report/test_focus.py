"""The FOCUS export checked against the FOCUS 1.1 column rules, written here from the spec
(https://focus.finops.org/focus-specification/v1-1/), not from the exporter.

Nullability rules checked (spec: "Column required / Allows nulls"):
  * never null: BilledCost, BillingAccountId, BillingCurrency, BillingPeriodStart/End,
    ChargeCategory, ChargeDescription (SHOULD NOT be null; costlab always fills it), ChargeFrequency,
    ChargePeriodStart/End, ContractedCost, EffectiveCost, InvoiceIssuerName, ListCost,
    ProviderName, PublisherName, ServiceCategory, ServiceName;
  * ChargeCategory = 'Usage' (every costlab row) => ConsumedQuantity, ConsumedUnit, PricingQuantity,
    PricingUnit, PricingCategory not null;
  * RegionName not null when RegionId is not null; ResourceName / ResourceType not null when
    ResourceId is not null; SubAccountName not null when SubAccountId is not null;
  * may be null: AvailabilityZone, BillingAccountName, ChargeClass (null = not a correction),
    CommitmentDiscount* (no commitment data), ListUnitPrice (no public on-demand price known).
Value rules: currency ISO 4217 'USD'; ChargeCategory in the allowed values; ChargePeriodStart <
ChargePeriodEnd, inside [BillingPeriodStart, BillingPeriodEnd); costs decimal and >= 0;
Tags a JSON object of strings; columns not in the spec carry the x_ prefix.
"""

from __future__ import annotations

import csv
import json
from datetime import UTC, datetime
from decimal import Decimal

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from report_fixtures import W45_TOTAL_MICROS

from costlab.money import micros_to_usd
from costlab.report.batch import build_report
from costlab.report.savings import unavailable

DECIMAL, STRING, DATETIME = "decimal", "string", "datetime"
# FOCUS 1.1 columns costlab writes: name -> (type, nullable)
SPEC: dict[str, tuple[str, bool]] = {
    "AvailabilityZone": (STRING, True),
    "BilledCost": (DECIMAL, False),
    "BillingAccountId": (STRING, False),
    "BillingAccountName": (STRING, True),
    "BillingCurrency": (STRING, False),
    "BillingPeriodEnd": (DATETIME, False),
    "BillingPeriodStart": (DATETIME, False),
    "ChargeCategory": (STRING, False),
    "ChargeClass": (STRING, True),
    "ChargeDescription": (STRING, False),
    "ChargeFrequency": (STRING, False),
    "ChargePeriodEnd": (DATETIME, False),
    "ChargePeriodStart": (DATETIME, False),
    "CommitmentDiscountCategory": (STRING, True),
    "CommitmentDiscountId": (STRING, True),
    "CommitmentDiscountName": (STRING, True),
    "CommitmentDiscountStatus": (STRING, True),
    "CommitmentDiscountType": (STRING, True),
    "ConsumedQuantity": (DECIMAL, False),
    "ConsumedUnit": (STRING, False),
    "ContractedCost": (DECIMAL, False),
    "EffectiveCost": (DECIMAL, False),
    "InvoiceIssuerName": (STRING, False),
    "ListCost": (DECIMAL, False),
    "ListUnitPrice": (DECIMAL, True),
    "PricingCategory": (STRING, False),
    "PricingQuantity": (DECIMAL, False),
    "PricingUnit": (STRING, False),
    "ProviderName": (STRING, False),
    "PublisherName": (STRING, False),
    "RegionId": (STRING, True),
    "RegionName": (STRING, True),
    "ResourceId": (STRING, True),
    "ResourceName": (STRING, True),
    "ResourceType": (STRING, True),
    "ServiceCategory": (STRING, False),
    "ServiceName": (STRING, False),
    "ServiceSubcategory": (STRING, True),
    "SkuId": (STRING, True),
    "SkuPriceId": (STRING, True),
    "SubAccountId": (STRING, True),
    "SubAccountName": (STRING, True),
    "Tags": (STRING, True),
}
CHARGE_CATEGORIES = {"Usage", "Purchase", "Tax", "Credit", "Adjustment"}
CHARGE_FREQUENCIES = {"One-Time", "Recurring", "Usage-Based"}
PRICING_CATEGORIES = {"Standard", "Dynamic", "Committed", "Other"}
SERVICE_CATEGORIES = {
    "AI and Machine Learning",
    "Analytics",
    "Business Applications",
    "Compute",
    "Databases",
    "Developer Tools",
    "Multicloud",
    "Identity",
    "Integration",
    "Internet of Things",
    "Management and Governance",
    "Media",
    "Migration",
    "Mobile",
    "Networking",
    "Security",
    "Storage",
    "Web",
    "Other",
}
COSTS = ("BilledCost", "EffectiveCost", "ListCost", "ContractedCost")


@pytest.fixture(scope="module")
def focus(two_weeks, tmp_path_factory):
    db, _ = two_weeks
    files = build_report(
        db, period="2026-W45", out=tmp_path_factory.mktemp("focus"), savings_provider=unavailable
    )
    table = pq.read_table(files.focus_parquet)
    with files.focus_csv.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    return table, rows


def test_parquet_columns_and_types(focus):
    table, _ = focus
    schema = table.schema
    for name, (kind, _) in SPEC.items():
        assert name in schema.names, f"FOCUS column {name} missing"
        t = schema.field(name).type
        if kind == DECIMAL:
            assert pa.types.is_decimal(t) and t.scale >= 6, (
                f"{name} must be an exact decimal, is {t}"
            )
        elif kind == DATETIME:
            assert pa.types.is_timestamp(t) and t.tz in ("UTC", "Etc/UTC", "+00:00"), f"{name}: {t}"
        else:
            assert pa.types.is_string(t) or pa.types.is_large_string(t), (
                f"{name} must be a string, is {t}"
            )
    extra = [n for n in schema.names if n not in SPEC]
    assert extra and all(n.startswith("x_") for n in extra), extra
    assert {"x_Tenant", "x_GpuHours", "x_IdleCost", "x_Cluster", "x_NodePool"} <= set(extra)


def test_nullability_and_values(focus):
    table, _ = focus
    rows = table.to_pylist()
    assert rows
    for row in rows:
        for name, (_, nullable) in SPEC.items():
            if not nullable:
                assert row[name] is not None and row[name] != "", f"{name} is null in {row}"
        assert row["BillingCurrency"] == "USD"
        assert row["ChargeCategory"] in CHARGE_CATEGORIES and row["ChargeCategory"] == "Usage"
        assert row["ChargeClass"] is None
        assert row["ChargeFrequency"] in CHARGE_FREQUENCIES
        assert row["PricingCategory"] in PRICING_CATEGORIES
        assert row["ServiceCategory"] in SERVICE_CATEGORIES
        assert row["ChargePeriodStart"] < row["ChargePeriodEnd"]
        assert (
            row["BillingPeriodStart"]
            <= row["ChargePeriodStart"]
            < row["ChargePeriodEnd"]
            <= row["BillingPeriodEnd"]
        )
        assert row["BillingPeriodStart"].day == 1  # calendar-month billing periods
        for cost in COSTS:
            assert row[cost] >= 0
        assert row["EffectiveCost"] == row["BilledCost"] == row["ContractedCost"]
        if row["RegionId"] is not None:
            assert row["RegionName"] is not None
        if row["ResourceId"] is not None:
            assert row["ResourceName"] and row["ResourceType"]
        if row["SubAccountId"] is not None:
            assert row["SubAccountName"]
        tags = json.loads(row["Tags"])
        assert isinstance(tags, dict) and all(isinstance(v, str) for v in tags.values())
        assert tags["team"] == row["x_Tenant"]
        assert row["x_IdleCost"] == (row["BilledCost"] if row["x_Tenant"] == "__idle__" else 0)
        assert row["PricingQuantity"] == row["ConsumedQuantity"] == row["x_GpuHours"]


def test_billed_cost_sums_to_the_node_cost(focus):
    table, _ = focus
    rows = table.to_pylist()
    billed = sum(r["BilledCost"] for r in rows)
    assert billed == micros_to_usd(W45_TOTAL_MICROS)  # exact, hence also to the cent
    assert sum(r["x_CostUsdMicros"] for r in rows) == W45_TOTAL_MICROS
    assert {(r["ChargePeriodStart"], r["ChargePeriodEnd"]) for r in rows} == {
        (datetime(2026, 11, d, tzinfo=UTC), datetime(2026, 11, d + 1, tzinfo=UTC))
        for d in range(2, 9)
    }
    idle = sum(r["x_IdleCost"] for r in rows)
    assert idle > 0
    # the spot node's list cost is the on-demand list price ($5.672/h) for its GPU-hours
    spot = [r for r in rows if r["x_CapacityType"] == "spot"]
    assert sum(r["ListCost"] for r in spot) == pytest.approx(
        Decimal("5.672") * 168, abs=Decimal("0.0001")
    )
    assert sum(r["BilledCost"] for r in spot) == Decimal("336")
    on_demand = [r for r in rows if r["x_CapacityType"] == "on-demand"]
    assert abs(
        sum(r["ListCost"] for r in on_demand) - sum(r["BilledCost"] for r in on_demand)
    ) < Decimal("0.01")


def test_csv_matches_parquet(focus):
    table, rows = focus
    assert list(rows[0]) == table.schema.names
    assert len(rows) == table.num_rows
    assert sum(Decimal(r["BilledCost"]) for r in rows) == micros_to_usd(W45_TOTAL_MICROS)
    for r in rows:
        assert r["BillingCurrency"] == "USD"
        start = datetime.strptime(r["ChargePeriodStart"], "%Y-%m-%dT%H:%M:%SZ")
        end = datetime.strptime(r["ChargePeriodEnd"], "%Y-%m-%dT%H:%M:%SZ")
        assert start < end
        assert all(len(r[c].split(".")[1]) == 6 for c in COSTS)  # exact decimals, 6 places
