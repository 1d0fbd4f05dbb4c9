"""Report periods: parsing, previous period, and the default (last complete month, else week)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from costlab.errors import UsageError
from costlab.report.periods import default_period, parse_period


def ts(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def test_month_and_week_windows():
    nov = parse_period("2026-11")
    assert (nov.kind, nov.window.start, nov.window.end) == (
        "month",
        ts(2026, 11, 1),
        ts(2026, 12, 1),
    )
    dec = parse_period("2026-12")
    assert dec.window.end == ts(2027, 1, 1)
    w47 = parse_period("2026-W47")
    assert (w47.kind, w47.label, w47.window.start, w47.window.end) == (
        "week",
        "2026-W47",
        ts(2026, 11, 16),
        ts(2026, 11, 23),
    )
    assert parse_period("2026-w47") == w47


def test_previous_crosses_year_boundaries():
    assert parse_period("2026-01").previous().label == "2025-12"
    assert parse_period("2026-W01").previous().label == "2025-W52"
    assert parse_period("2027-W01").previous().label == "2026-W53"  # 2026 has 53 ISO weeks


@pytest.mark.parametrize(
    "text", ["2026-13", "2026-W54", "2025-W53", "26-11", "2026/11", "last-month", ""]
)
def test_bad_periods_are_usage_errors(text):
    with pytest.raises(UsageError):
        parse_period(text)


def test_default_is_last_complete_month():
    assert default_period(ts(2026, 9, 14), ts(2026, 12, 3)).label == "2026-11"
    assert default_period(ts(2026, 11, 1), ts(2026, 12, 1)).label == "2026-11"


def test_default_falls_back_to_last_complete_iso_week():
    # the 7-day demo: 2026-11-16 (Mon) 00:00 to 2026-11-23 00:00 holds exactly ISO week 47
    assert default_period(ts(2026, 11, 16), ts(2026, 11, 23)).label == "2026-W47"
    assert default_period(ts(2026, 11, 3, 5), ts(2026, 11, 24, 7)).label == "2026-W47"


def test_default_without_a_complete_period_says_what_to_do():
    with pytest.raises(UsageError, match="--period"):
        default_period(ts(2026, 11, 21), ts(2026, 11, 23))
    with pytest.raises(UsageError, match="no allocation"):
        default_period(None, None)
