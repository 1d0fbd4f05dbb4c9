"""Random files to `costlab prices import`: raw bytes and CSV rows of random fields. Each import
loads every row exactly or refuses the file with a UsageError; a stored price is always the row's
own price in whole micro-dollars, between $0.000001 and $10,000 an hour."""

from __future__ import annotations

import csv
import io
import tempfile
from decimal import Decimal
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from costlab import store
from costlab.collect.ec2 import prices as ec2_prices
from costlab.errors import UsageError
from costlab.money import usd_to_micros

from .conftest import cli, fuzz_settings

HEADER = ["instance_type", "region", "capacity_type", "usd_per_hour", "zone", "effective_from"]
prices = st.one_of(
    st.decimals(allow_nan=True, allow_infinity=True).map(str),
    st.floats().map(repr),
    st.sampled_from(["0.0000001", "0.000001", "9999999999999", "1e308", "-1", "0", "", "12,5"]),
    st.text(max_size=8),
)
fields = {
    "instance_type": st.sampled_from(["p4d.24xlarge", "g5.xlarge", "P4D.24XLARGE", "p4d", ""]),
    "region": st.sampled_from(["us-east-1", "us-west-2", "xx-nowhere-9", "useast1", ""]),
    "capacity_type": st.sampled_from(["on-demand", "spot", "reserved", "Spot", ""]),
    "usd_per_hour": prices,
    "zone": st.sampled_from(["", "us-east-1a", "us-west-2b", "us-east-1zzz", "us-east-1-bos-1a"]),
    "effective_from": st.sampled_from(["", "2026-11-01", "9999-12-31T23:59", "yesterday"]),
}
rows = st.lists(st.fixed_dictionaries(fields), max_size=6)


def csv_text(records: list[dict[str, str]], bom: bool) -> bytes:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, HEADER, lineterminator="\n")
    writer.writeheader()
    writer.writerows(records)
    return (b"\xef\xbb\xbf" if bom else b"") + buf.getvalue().encode()


def import_bytes(data: bytes) -> tuple[list[tuple], str | None]:
    """(stored manual rows, error) after importing `data` into a fresh database."""
    conn = store.connect(":memory:")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "rates.csv"
        path.write_bytes(data)
        error = None
        try:
            ec2_prices.import_overrides(conn, path)
        except UsageError as exc:
            error = str(exc)
        stored = conn.execute(
            "SELECT instance_type, region, zone, capacity_type, usd_micros_per_hour FROM prices "
            "WHERE source = 'manual'"
        ).fetchall()
    conn.close()
    return stored, error


@fuzz_settings(60)
@given(rows, st.booleans())
def test_random_rows_load_exactly_or_not_at_all(records, bom):
    stored, error = import_bytes(csv_text(records, bom))
    if error is not None:
        assert stored == []
        return
    # one stored row per key: a key priced twice differently is refused, twice alike is one row
    assert len(stored) == len(
        {tuple(v for k, v in r.items() if k != "usd_per_hour") for r in records}
    )
    for itype, region, zone, capacity, micros in stored:
        assert 1 <= micros <= 10_000_000_000
        texts = {
            r["usd_per_hour"].strip()
            for r in records
            if (r["instance_type"], r["region"], r["zone"], r["capacity_type"])
            == (itype, region, zone, capacity)
        }
        assert micros in {usd_to_micros(Decimal(t)) for t in texts}


@fuzz_settings(60)
@given(st.binary(max_size=400))
def test_random_bytes_never_crash(data):
    stored, error = import_bytes(b"instance_type,region,capacity_type,usd_per_hour\n" + data)
    assert error is not None or all(1 <= r[-1] <= 10_000_000_000 for r in stored)


def test_random_files_through_the_cli(in_place):
    @fuzz_settings(15)
    @given(st.one_of(st.binary(max_size=300), rows.map(lambda r: csv_text(r, False))))
    def run(data):
        path = in_place / "fuzz-rates.csv"
        path.write_bytes(data)
        cli("--db", str(in_place / "prices.duckdb"), "prices", "import", str(path)).check()

    run()
