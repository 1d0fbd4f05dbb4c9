"""`costlab collect prices --snapshot FILE` checks a user's file like `prices import` does: no
price stored as $0, truncated or overflowing, no key priced twice, no malformed zone."""

from __future__ import annotations

import polars as pl
import pytest

from costlab.collect.ec2.snapshot import _checked, shipped_snapshot, snapshot_prices
from costlab.errors import CollectorError

from .cli_run import one_line_error, run

HEADER = "instance_type,region,capacity_type,usd_per_hour,zone\n"


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ("p4d.24xlarge,us-east-1,on-demand,9999999999999,", "is above costlab's limit"),
        ("p4d.24xlarge,us-east-1,on-demand,1e308,", "is above costlab's limit"),
        ("p4d.24xlarge,us-east-1,on-demand,0.0000001,", "below costlab's resolution"),
        ("p4d.24xlarge,us-east-1,on-demand,0,", "must be a positive price"),
        ("p4d.24xlarge,us-east-1,spot,9,us-east-1zzz", "is not an availability zone"),
        ("p4d.24xlarge,us-east-1,on-demand,30,\np4d.24xlarge,us-east-1,on-demand,31,", "twice"),
    ],
)
def test_bad_snapshot_rows_are_one_line(capsys, tmp_path, row, message):
    path = tmp_path / "snap.csv"
    path.write_text(HEADER + row + "\n")
    result = run(
        capsys, "--db", str(tmp_path / "x.duckdb"), "collect", "prices", "--snapshot", str(path)
    )
    line = one_line_error(result, 1)
    assert f"price snapshot {path}: 1 bad row(s), nothing loaded: line" in line
    assert message in line


def test_snapshot_prices_are_exact_micro_dollars(tmp_path):
    path = tmp_path / "snap.csv"
    path.write_bytes(
        b"\xef\xbb\xbfregion,instance_type,ondemand_usd_per_hour\n"
        b"us-east-1,g5.xlarge,1.006\nus-east-1,p5.48xlarge,98.32\nus-east-1,t4g.nano,0.0000015\n"
    )
    frame = snapshot_prices(path)
    assert frame.select("instance_type", "usd_micros_per_hour", "source").rows() == [
        ("g5.xlarge", 1_006_000, "snapshot"),
        ("p5.48xlarge", 98_320_000, "snapshot"),
        ("t4g.nano", 2, "snapshot"),  # half-even, not truncated to 1
    ]


def test_the_shipped_snapshot_passes_the_same_checks():
    fast = snapshot_prices(None)
    raw = (
        pl.read_csv(shipped_snapshot(), infer_schema_length=0)
        .rename({"ondemand_usd_per_hour": "usd_per_hour"})
        .with_columns(pl.lit("on-demand").alias("capacity_type"))
    )
    checked = _checked(shipped_snapshot(), raw)
    assert checked.sort("instance_type").equals(fast.sort("instance_type"))


def test_error_text_is_collector_error(tmp_path):
    path = tmp_path / "snap.csv"
    path.write_text(HEADER + "p4d.24xlarge,us-east-1,on-demand,0,\n")
    with pytest.raises(CollectorError):
        snapshot_prices(path)
