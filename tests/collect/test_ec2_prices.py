"""EC2 prices: Pricing API and spot history through real boto3 clients with botocore's Stubber
(requests and responses are validated against the service models), snapshots, CSV overrides."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import boto3
import pytest
from botocore.stub import Stubber
from typer.testing import CliRunner

from costlab import store
from costlab.cli import app
from costlab.collect import sink
from costlab.collect.ec2 import prices as ec2_prices
from costlab.collect.ec2.pricing_api import product_filters
from costlab.collect.ec2.snapshot import SNAPSHOT_EFFECTIVE_FROM
from costlab.errors import UsageError

NOW = datetime(2026, 7, 2, 0, 0, tzinfo=UTC)


def price_item(instance_type: str, usd: str, effective: str, sku: str) -> str:
    """One PriceList entry in the shape GetProducts returns (a JSON document as a string)."""
    term = f"{sku}.JRTCKXETXF"
    return json.dumps(
        {
            "product": {
                "productFamily": "Compute Instance",
                "attributes": {
                    "instanceType": instance_type,
                    "regionCode": "us-east-1",
                    "location": "US East (N. Virginia)",
                    "locationType": "AWS Region",
                    "operatingSystem": "Linux",
                    "tenancy": "Shared",
                    "preInstalledSw": "NA",
                    "capacitystatus": "Used",
                    "licenseModel": "No License required",
                    "usagetype": f"BoxUsage:{instance_type}",
                    "operation": "RunInstances",
                    "marketoption": "OnDemand",
                    "servicecode": "AmazonEC2",
                },
                "sku": sku,
            },
            "serviceCode": "AmazonEC2",
            "terms": {
                "OnDemand": {
                    term: {
                        "priceDimensions": {
                            f"{term}.6YS6EN2CT7": {
                                "unit": "Hrs",
                                "endRange": "Inf",
                                "description": f"${usd} per On Demand Linux {instance_type} "
                                "Instance Hour",
                                "appliesTo": [],
                                "rateCode": f"{term}.6YS6EN2CT7",
                                "beginRange": "0",
                                "pricePerUnit": {"USD": usd},
                            }
                        },
                        "sku": sku,
                        "effectiveDate": effective,
                        "offerTermCode": "JRTCKXETXF",
                        "termAttributes": {},
                    }
                },
                "Reserved": {
                    f"{sku}.4NA7Y494T4": {
                        "priceDimensions": {
                            f"{sku}.4NA7Y494T4.6YS6EN2CT7": {
                                "unit": "Hrs",
                                "pricePerUnit": {"USD": "13.1100000000"},
                                "description": "Linux/UNIX (Amazon VPC), 1 yr No Upfront",
                                "appliesTo": [],
                                "rateCode": f"{sku}.4NA7Y494T4.6YS6EN2CT7",
                                "beginRange": "0",
                                "endRange": "Inf",
                            }
                        },
                        "sku": sku,
                        "effectiveDate": "2025-01-01T00:00:00Z",
                        "offerTermCode": "4NA7Y494T4",
                        "termAttributes": {
                            "LeaseContractLength": "1yr",
                            "PurchaseOption": "No Upfront",
                        },
                    }
                },
            },
            "version": "20260701000000",
            "publicationDate": "2026-07-01T00:00:00Z",
        }
    )


def spot(itype: str, zone: str, usd: str, ts: str) -> dict:
    return {
        "AvailabilityZone": zone,
        "InstanceType": itype,
        "ProductDescription": "Linux/UNIX",
        "SpotPrice": usd,
        "Timestamp": datetime.fromisoformat(ts),
    }


TYPES = ["g5.xlarge", "p4d.24xlarge", "p5e.48xlarge"]


def stub_run(
    pricing, ec2, *, p4d_usd: str, p4d_effective: str, spot_start: datetime, spot_pages: list
):
    """Queue the calls of one collection run (us-east-1; three instance types)."""

    def products(itype, items, token=None, next_token=None):
        params = {
            "ServiceCode": "AmazonEC2",
            "Filters": product_filters("us-east-1", itype),
            "FormatVersion": "aws_v1",
            "MaxResults": 100,
        }
        if token:
            params["NextToken"] = token
        resp = {"FormatVersion": "aws_v1", "PriceList": items}
        if next_token:
            resp["NextToken"] = next_token
        pricing.add_response("get_products", resp, params)

    products(
        "g5.xlarge", [price_item("g5.xlarge", "1.0060000000", "2026-06-01T00:00:00Z", "SKUG5XL")]
    )
    products(
        "p4d.24xlarge",
        [price_item("p4d.24xlarge", p4d_usd, p4d_effective, "SKUP4D")],
        next_token="page2",
    )
    products("p4d.24xlarge", [], token="page2")
    # AWS lists p5e.48xlarge in us-east-1 without an on-demand price.
    products(
        "p5e.48xlarge",
        [price_item("p5e.48xlarge", "0.0000000000", "2026-06-01T00:00:00Z", "SKUP5E")],
    )
    for i, page in enumerate(spot_pages):
        params = {
            "InstanceTypes": TYPES,
            "ProductDescriptions": ["Linux/UNIX"],
            "StartTime": spot_start,
            "EndTime": NOW,
        }
        if i:
            params["NextToken"] = f"spot{i}"
        resp = {"SpotPriceHistory": page}
        if i + 1 < len(spot_pages):
            resp["NextToken"] = f"spot{i + 1}"
        ec2.add_response("describe_spot_price_history", resp, params)


@pytest.fixture
def aws():
    creds = dict(aws_access_key_id="testing", aws_secret_access_key="testing")
    pricing = boto3.client("pricing", region_name="us-east-1", **creds)
    ec2 = boto3.client("ec2", region_name="us-east-1", **creds)
    with Stubber(pricing) as ps, Stubber(ec2) as es:
        yield ps, es, (lambda service, region: {"pricing": pricing, "ec2": ec2}[service])
        ps.assert_no_pending_responses()
        es.assert_no_pending_responses()


def prices(conn, source: str) -> list[tuple]:
    return conn.execute(
        "SELECT instance_type, zone, capacity_type, effective_from, usd_micros_per_hour "
        "FROM prices "
        "WHERE source = $s ORDER BY ALL",
        {"s": source},
    ).fetchall()


def ts(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def test_pricing_api_and_spot_history_keep_full_history(fresh_db, aws):
    ps, es, clients = aws
    settings = ec2_prices.PricesSettings(regions=["us-east-1"], instance_types=TYPES)
    stub_run(
        ps,
        es,
        p4d_usd="21.9576420000",
        p4d_effective="2026-06-01T00:00:00Z",
        spot_start=NOW - timedelta(days=30),
        spot_pages=[
            [
                spot("p4d.24xlarge", "us-east-1a", "8.218600", "2026-07-01T00:00:00+00:00"),
                spot("p4d.24xlarge", "us-east-1b", "9.000100", "2026-07-01T00:00:00+00:00"),
            ],
            [
                spot("p4d.24xlarge", "us-east-1a", "8.501200", "2026-07-01T06:00:00+00:00"),
                spot("g5.xlarge", "us-east-1c", "0.413200", "2026-06-30T12:00:00+00:00"),
                spot("g5.xlarge", "us-east-1c", "0.398700", "2026-07-01T03:30:00+00:00"),
            ],
        ],
    )
    report = ec2_prices.collect(fresh_db, settings=settings, clients=clients, now=lambda: NOW)
    assert report.loaded == {"pricing-api": 2, "spot-history": 5}
    assert report.unpriced == {"us-east-1": ["p5e.48xlarge"]}  # listed at $0: reported, not stored
    assert report.zero_priced == {"us-east-1": ["p5e.48xlarge"]}
    assert prices(fresh_db, "pricing-api") == [
        ("g5.xlarge", "", "on-demand", ts("2026-06-01T00:00:00"), 1_006_000),
        ("p4d.24xlarge", "", "on-demand", ts("2026-06-01T00:00:00"), 21_957_642),
    ]
    assert prices(fresh_db, "spot-history") == [
        ("g5.xlarge", "us-east-1c", "spot", ts("2026-06-30T12:00:00"), 413_200),
        ("g5.xlarge", "us-east-1c", "spot", ts("2026-07-01T03:30:00"), 398_700),
        ("p4d.24xlarge", "us-east-1a", "spot", ts("2026-07-01T00:00:00"), 8_218_600),
        ("p4d.24xlarge", "us-east-1a", "spot", ts("2026-07-01T06:00:00"), 8_501_200),
        ("p4d.24xlarge", "us-east-1b", "spot", ts("2026-07-01T00:00:00"), 9_000_100),
    ]
    assert sink.get_watermark(fresh_db, "prices", "spot:us-east-1") == NOW

    # Second run: AWS cut the p4d price on 2026-07-01; spot re-reads only the 6 h lookback.
    stub_run(
        ps,
        es,
        p4d_usd="20.1000000000",
        p4d_effective="2026-07-01T00:00:00Z",
        spot_start=NOW - timedelta(hours=6),
        spot_pages=[[spot("p4d.24xlarge", "us-east-1a", "8.501200", "2026-07-01T06:00:00+00:00")]],
    )
    ec2_prices.collect(fresh_db, settings=settings, clients=clients, now=lambda: NOW)
    assert prices(fresh_db, "pricing-api") == [
        ("g5.xlarge", "", "on-demand", ts("2026-06-01T00:00:00"), 1_006_000),
        ("p4d.24xlarge", "", "on-demand", ts("2026-06-01T00:00:00"), 21_957_642),
        ("p4d.24xlarge", "", "on-demand", ts("2026-07-01T00:00:00"), 20_100_000),
    ]
    assert (
        len(prices(fresh_db, "spot-history")) == 5
    )  # the repeated change upserted, not duplicated


def test_without_credentials_the_shipped_snapshot_is_loaded(fresh_db, monkeypatch, tmp_path):
    for var in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    report = ec2_prices.collect(fresh_db, settings=ec2_prices.PricesSettings())
    assert report.mode == "shipped-snapshot" and report.loaded == {"snapshot": 1367}
    got = fresh_db.execute(
        "SELECT instance_type, usd_micros_per_hour, effective_from FROM prices "
        "WHERE source = 'snapshot' AND instance_type IN ('p4d.24xlarge', 'p5.48xlarge') ORDER BY 1"
    ).fetchall()
    assert got == [
        ("p4d.24xlarge", 21_957_642, SNAPSHOT_EFFECTIVE_FROM),
        ("p5.48xlarge", 55_040_000, SNAPSHOT_EFFECTIVE_FROM),
    ]


def test_snapshot_file_with_zones(fresh_db, tmp_path):
    snap = tmp_path / "snap.csv"
    snap.write_text(
        "instance_type,region,capacity_type,usd_per_hour,zone\n"
        "p5en.48xlarge,us-east-1,on-demand,63.296,\n"
        "p5en.48xlarge,us-east-1,spot,16.624102,us-east-1a\n"
    )
    report = ec2_prices.collect(fresh_db, settings=ec2_prices.PricesSettings(), snapshot=snap)
    assert report.loaded == {"snapshot": 2}
    assert prices(fresh_db, "snapshot") == [
        ("p5en.48xlarge", "", "on-demand", SNAPSHOT_EFFECTIVE_FROM, 63_296_000),
        ("p5en.48xlarge", "us-east-1a", "spot", SNAPSHOT_EFFECTIVE_FROM, 16_624_102),
    ]
    with pytest.raises(UsageError, match="no such file"):
        ec2_prices.collect(
            fresh_db, settings=ec2_prices.PricesSettings(), snapshot=tmp_path / "x.csv"
        )


def test_import_overrides(fresh_db, tmp_path):
    good = tmp_path / "rates.csv"
    good.write_text(
        "instance_type,region,capacity_type,usd_per_hour,zone,effective_from\n"
        "p4d.24xlarge,us-east-1,reserved,13.11,,\n"
        "p5.48xlarge,us-east-1,on-demand,41.28,,2026-07-01\n"
        "g6e.xlarge,us-west-2,spot,0.9,us-west-2b,2026-07-01T12:00Z\n"
        "p9z.96xlarge,us-east-1,on-demand,99.5,,\n"
    )
    report = ec2_prices.import_overrides(fresh_db, good)
    assert report.loaded == {"manual": 4}
    assert report.unpriced == {"not a known instance type (check spelling)": ["p9z.96xlarge"]}
    assert prices(fresh_db, "manual") == [
        ("g6e.xlarge", "us-west-2b", "spot", ts("2026-07-01T12:00:00"), 900_000),
        ("p4d.24xlarge", "", "reserved", SNAPSHOT_EFFECTIVE_FROM, 13_110_000),
        ("p5.48xlarge", "", "on-demand", ts("2026-07-01T00:00:00"), 41_280_000),
        ("p9z.96xlarge", "", "on-demand", SNAPSHOT_EFFECTIVE_FROM, 99_500_000),
    ]
    # importing the same file again changes nothing
    ec2_prices.import_overrides(fresh_db, good)
    assert len(prices(fresh_db, "manual")) == 4


def test_bad_override_rows_name_their_line_and_nothing_is_imported(fresh_db, tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text(
        "instance_type,region,capacity_type,usd_per_hour\n"
        "p4d.24xlarge,us-east-1,on-demand,20.5\n"
        "p4d.24xlarge,us-east-1,ondemand,20.5\n"
        "p4d.24xlarge,us-east-1,on-demand,0\n"
        "\n"
        "p4d.24xlarge,useast1,spot,3\n"
        "p4d.24xlarge,us-east-1,spot,abc\n"
    )
    with pytest.raises(UsageError) as info:
        ec2_prices.import_overrides(fresh_db, bad)
    msg = str(info.value)
    assert "4 bad row(s), nothing imported" in msg
    assert "line 3: capacity_type 'ondemand' must be one of on-demand, spot, reserved" in msg
    assert "line 4: usd_per_hour '0' must be a positive price" in msg
    assert "line 6: region 'useast1' is not an AWS region" in msg
    assert "line 7: usd_per_hour 'abc' is not a number" in msg
    assert prices(fresh_db, "manual") == []
    header = tmp_path / "header.csv"
    header.write_text("instance,region,capacity_type,usd_per_hour\n")
    with pytest.raises(UsageError, match="line 1: header lacks column"):
        ec2_prices.import_overrides(fresh_db, header)


def test_cli_prices_import_and_snapshot(tmp_path):
    db = tmp_path / "p.duckdb"
    rates = tmp_path / "rates.csv"
    rates.write_text(
        "instance_type,region,capacity_type,usd_per_hour\np4d.24xlarge,us-east-1,reserved,13.11\n"
    )
    runner = CliRunner()
    result = runner.invoke(app, ["--db", str(db), "prices", "import", str(rates)])
    assert result.exit_code == 0, result.output
    assert "manual" in result.output and "loaded manual: 1" in result.output
    snap = tmp_path / "snap.csv"
    snap.write_text(
        "region,instance_type,ondemand_usd_per_hour\nus-east-1,p4d.24xlarge,21.957642\n"
    )
    result = runner.invoke(app, ["--db", str(db), "collect", "prices", "--snapshot", str(snap)])
    assert result.exit_code == 0, result.output
    assert "loaded snapshot: 1" in result.output
    conn = store.connect(db)
    assert conn.execute("SELECT source, usd_micros_per_hour FROM prices ORDER BY 1").fetchall() == [
        ("manual", 13_110_000),
        ("snapshot", 21_957_642),
    ]
    conn.close()
