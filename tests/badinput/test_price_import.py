"""`costlab prices import`: prices costlab cannot store, conflicting rows, odd zones and regions,
byte-order marks and oversized fields end in a clear error or warning, never a traceback or a
silently different price."""

from __future__ import annotations

import pytest

from costlab import store
from costlab.collect.ec2 import prices as ec2_prices
from costlab.errors import UsageError

from .cli_run import run

HEADER = "instance_type,region,capacity_type,usd_per_hour,zone\n"


def import_text(conn, tmp_path, text: str, *, encoding: str = "utf-8"):
    path = tmp_path / "rates.csv"
    path.write_bytes(text.encode(encoding))
    return ec2_prices.import_overrides(conn, path)


def manual(conn) -> list[tuple]:
    return conn.execute(
        "SELECT instance_type, region, zone, usd_micros_per_hour FROM prices "
        "WHERE source = 'manual' ORDER BY ALL"
    ).fetchall()


@pytest.mark.parametrize(
    ("price", "message"),
    [
        ("9999999999999", "usd_per_hour 9999999999999 is above costlab's limit of $10,000/h"),
        ("1e308", "usd_per_hour 1e308 is above costlab's limit of $10,000/h"),
        ("0.0000001", "price 0.0000001 is below costlab's resolution of $0.000001/h"),
        ("0.0000009", "price 0.0000009 is below costlab's resolution of $0.000001/h"),
    ],
)
def test_prices_costlab_cannot_store_are_refused(fresh_db, tmp_path, price, message):
    with pytest.raises(UsageError) as err:
        import_text(fresh_db, tmp_path, f"{HEADER}p4d.24xlarge,us-east-1,on-demand,{price},\n")
    assert f"line 2: {message}" in str(err.value)
    assert manual(fresh_db) == []


def test_smallest_and_largest_storable_prices_are_exact(fresh_db, tmp_path):
    import_text(
        fresh_db,
        tmp_path,
        f"{HEADER}g5.xlarge,us-east-1,on-demand,0.000001,\np5.48xlarge,us-east-1,on-demand,10000,\n",
    )
    assert manual(fresh_db) == [
        ("g5.xlarge", "us-east-1", "", 1),
        ("p5.48xlarge", "us-east-1", "", 10_000_000_000),
    ]


def test_two_prices_for_one_key_are_refused_naming_both(fresh_db, tmp_path):
    with pytest.raises(UsageError) as err:
        import_text(
            fresh_db,
            tmp_path,
            f"{HEADER}p4d.24xlarge,us-east-1,on-demand,30,\n"
            "g5.xlarge,us-east-1,on-demand,1,\n"
            "p4d.24xlarge,us-east-1,on-demand,31.5,\n",
        )
    assert (
        "line 4: p4d.24xlarge on-demand in us-east-1 from 2000-01-01T00:00:00+00:00 is priced "
        "twice: 30 (line 2) and 31.5; keep one"
    ) in str(err.value)
    assert manual(fresh_db) == []


def test_the_same_row_twice_is_not_a_conflict(fresh_db, tmp_path):
    import_text(
        fresh_db,
        tmp_path,
        f"{HEADER}p4d.24xlarge,us-east-1,spot,9.5,us-east-1a\np4d.24xlarge,us-east-1,spot,9.50,"
        "us-east-1a\np4d.24xlarge,us-east-1,spot,9.7,us-east-1b\n",
    )
    assert manual(fresh_db) == [
        ("p4d.24xlarge", "us-east-1", "us-east-1a", 9_500_000),
        ("p4d.24xlarge", "us-east-1", "us-east-1b", 9_700_000),
    ]


@pytest.mark.parametrize("zone", ["us-east-1zzz", "us-east-1-", "us-east-1_a", "us-east-1A"])
def test_malformed_zones_are_refused(fresh_db, tmp_path, zone):
    with pytest.raises(UsageError) as err:
        import_text(fresh_db, tmp_path, f"{HEADER}p4d.24xlarge,us-east-1,spot,9,{zone}\n")
    assert f"line 2: zone {zone!r} is not an availability zone of us-east-1" in str(err.value)


@pytest.mark.parametrize("zone", ["us-east-1f", "us-east-1-bos-1a", "us-east-1-wl1-bos-wlz-1"])
def test_local_and_wavelength_zones_are_accepted(fresh_db, tmp_path, zone):
    import_text(fresh_db, tmp_path, f"{HEADER}p4d.24xlarge,us-east-1,spot,9,{zone}\n")
    assert manual(fresh_db) == [("p4d.24xlarge", "us-east-1", zone, 9_000_000)]


def test_malformed_region_is_an_error(fresh_db, tmp_path):
    with pytest.raises(UsageError) as err:
        import_text(fresh_db, tmp_path, f"{HEADER}p4d.24xlarge,useast1,on-demand,30,\n")
    assert "line 2: region 'useast1' is not an AWS region" in str(err.value)


def test_unknown_well_formed_region_is_a_warning(fresh_db, tmp_path):
    report = import_text(
        fresh_db,
        tmp_path,
        f"{HEADER}p4d.24xlarge,xx-nowhere-9,on-demand,30,\np4d.24xlarge,us-east-1,on-demand,31,\n",
    )
    assert report.warnings == [
        "warning: region(s) xx-nowhere-9 not known to costlab's price data or this database "
        "(check spelling)"
    ]
    assert len(manual(fresh_db)) == 2


def test_a_byte_order_mark_is_accepted(fresh_db, tmp_path):
    import_text(
        fresh_db, tmp_path, f"{HEADER}g5.xlarge,us-east-1,on-demand,1.006,\n", encoding="utf-8-sig"
    )
    assert manual(fresh_db) == [("g5.xlarge", "us-east-1", "", 1_006_000)]


def test_cli_oversized_field_is_one_line(capsys, tmp_path):
    path = tmp_path / "big.csv"
    path.write_text(f"{HEADER}p4d.24xlarge,us-east-1,on-demand,30,{'a' * 140_000}\n")
    result = run(capsys, "--db", str(tmp_path / "x.duckdb"), "prices", "import", str(path))
    assert result.code == 2 and "Traceback" not in result.err
    assert result.err.strip() == (
        f"error: {path}: near line 2: a field is longer than 128 KiB; is this a price CSV?"
    )


@pytest.mark.parametrize("what", ["folder", "binary", "missing"])
def test_cli_unreadable_files_are_one_line(capsys, tmp_path, what):
    path = tmp_path / "rates.csv"
    if what == "folder":
        path.mkdir()
    elif what == "binary":
        path.write_bytes(bytes(range(256)) * 4)
    result = run(capsys, "--db", str(tmp_path / "x.duckdb"), "prices", "import", str(path))
    assert result.code == 2 and "Traceback" not in result.err, result.err
    assert result.err.startswith(f"error: cannot read {path}"), result.err
    conn = store.connect(tmp_path / "x.duckdb")
    assert manual(conn) == []
    conn.close()
