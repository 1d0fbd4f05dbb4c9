"""Windows and periods at the edges of the calendar: one-line errors, and windows far wider than
the data clipped to it with a note, not minutes of empty chunks."""

from __future__ import annotations

import json
import logging
import shutil
from datetime import UTC, datetime, timedelta

import pytest

from costlab import store
from costlab.allocate.gpu import data_bounds
from costlab.allocate.window import clip_window
from costlab.errors import UsageError
from costlab.report.periods import parse_period
from costlab.timeutil import Window, parse_ts

from .cli_run import one_line_error, run


@pytest.fixture
def db(demo_db, tmp_path):
    path = tmp_path / "demo.duckdb"
    shutil.copy(demo_db, path)
    return path


@pytest.fixture(scope="module")
def extent(demo_db) -> tuple[str, str]:
    """The demo's whole hours as ISO text (its days end at the hour the fixture was built)."""
    conn = store.connect(demo_db, read_only=True)
    try:
        first, horizon = data_bounds(conn)
    finally:
        conn.close()
    assert first is not None and horizon is not None
    return first.isoformat(), horizon.isoformat()


def z(iso: str) -> str:
    return iso[:16] + "Z"


@pytest.mark.parametrize(
    ("start", "end"), [("0001-01-01", "9999-12-31"), ("1970-01-01", "2100-01-01")]
)
def test_allocate_window_wider_than_the_data_is_clipped_with_a_note(
    capsys, caplog, db, extent, start, end
):
    caplog.set_level(logging.WARNING, logger="costlab.allocate.window")
    result = run(
        capsys, "--db", str(db), "allocate", "--start", start, "--end", end, "--format", "json"
    )
    assert result.code == 0, result.err
    doc = json.loads(result.out)
    assert (doc["start"], doc["end"]) == extent
    assert [r.getMessage() for r in caplog.records] == [
        f"note: window {start}T00:00Z to {end}T00:00Z clipped to the recorded data, "
        f"{z(extent[0])} to {z(extent[1])}"
    ]
    whole = run(capsys, "--db", str(db), "allocate", "--format", "json")
    assert json.loads(whole.out)["total_node_cost_usd"] == doc["total_node_cost_usd"]


def test_window_missing_the_data_is_one_line(capsys, db, extent):
    result = run(
        capsys, "--db", str(db), "allocate", "--start", "1970-01-01", "--end", "1971-01-01"
    )
    assert one_line_error(result) == (
        "error: the window 1970-01-01T00:00Z to 1971-01-01T00:00Z holds no recorded data "
        f"(it spans {z(extent[0])} to {z(extent[1])})"
    )


def test_clip_window_leaves_a_window_inside_the_data_alone(fresh_db, demo_db, extent):
    conn = store.connect(demo_db, read_only=True)
    try:
        first = datetime.fromisoformat(extent[0])
        inside = Window(first + timedelta(hours=6), first + timedelta(hours=20))
        assert clip_window(conn, inside) is inside
    finally:
        conn.close()
    # an empty database has no extent to clip to: the window stays (the caller reports "no data")
    assert clip_window(fresh_db, inside) is inside


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("9999-12-31T23:30", "'9999-12-31T23:30' is after 9999-12-31T23:00Z"),
        ("0001-01-01T00:00+01:00", "'0001-01-01T00:00+01:00' is outside the years 1 to 9999"),
        ("9999-12-31T23:59:59-05:00", "is outside the years 1 to 9999"),
    ],
)
def test_times_at_the_end_of_the_calendar(text, message):
    with pytest.raises(UsageError) as err:
        parse_ts(text)
    assert message in str(err.value)


@pytest.mark.parametrize(
    ("command", "args"),
    [
        ("allocate", ["--start", "9999-12-31T23:30"]),
        ("allocate", ["--end", "0001-01-01T00:00+01:00"]),
        ("tokens", ["--start", "9999-12-31T23:30"]),
        ("tokens", ["--start", "1970-01-01", "--end", "1971-01-01"]),
    ],
)
def test_cli_edge_times_are_one_line(capsys, db, command, args):
    one_line_error(run(capsys, "--db", str(db), command, *args))


def test_tokens_window_is_clipped(capsys, db):
    result = run(
        capsys,
        "--db",
        str(db),
        "tokens",
        "--start",
        "0001-01-01",
        "--end",
        "9999-12-31",
        "--format",
        "json",
    )
    assert result.code == 0, result.err
    assert result.out == run(capsys, "--db", str(db), "tokens", "--format", "json").out


@pytest.mark.parametrize(
    "period", ["9999-12", "0000-01", "0001-01", "1969-12", "9999-W52", "0001-W01"]
)
def test_periods_at_the_end_of_the_calendar(capsys, db, tmp_path, period):
    with pytest.raises(UsageError, match="the year must be between 1970 and 9998"):
        parse_period(period)
    result = run(
        capsys, "--db", str(db), "report", "--out", str(tmp_path / "r"), "--period", period
    )
    assert one_line_error(result) == (
        f"error: --period {period!r}: the year must be between 1970 and 9998"
    )


def test_extreme_but_valid_periods_parse():
    assert parse_period("1970-01").previous().label == "1969-12"
    assert parse_period("9998-12").window.end == datetime(9999, 1, 1, tzinfo=UTC)
