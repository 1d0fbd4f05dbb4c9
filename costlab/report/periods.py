"""Report periods: a calendar month (YYYY-MM) or an ISO week (YYYY-Www), both in UTC.

The default period is the last *complete* month in the allocation data; when the data holds no
complete month it is the last complete ISO week. "Complete" means the allocation table spans the
whole period: its first hour bucket starts on or before the period start and its last one ends on
or after the period end (gaps inside the span are reported as coverage, not guessed at).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from costlab.errors import UsageError
from costlab.timeutil import Window

_MONTH = re.compile(r"^(\d{4})-(\d{2})$")
_WEEK = re.compile(r"^(\d{4})-W(\d{2})$", re.IGNORECASE)


@dataclass(frozen=True)
class Period:
    """A report period: kind 'month' or 'week', its label and its half-open UTC window."""

    kind: str
    label: str
    window: Window

    def previous(self) -> Period:
        """The period of the same kind just before this one (for the trend)."""
        if self.kind == "month":
            return month(self.window.start - timedelta(days=1))
        return week(self.window.start - timedelta(days=7))

    @property
    def title(self) -> str:
        start, end = self.window.start, self.window.end - timedelta(days=1)
        if self.kind == "month":
            return f"{start:%B %Y}"
        return f"ISO week {self.label} ({start:%Y-%m-%d} to {end:%Y-%m-%d})"


def _utc(d: date) -> datetime:
    return datetime(d.year, d.month, d.day, tzinfo=UTC)


def month(any_day: date | datetime) -> Period:
    """The calendar month (UTC) containing `any_day`."""
    first = date(any_day.year, any_day.month, 1)
    nxt = date(first.year + (first.month == 12), first.month % 12 + 1, 1)
    return Period("month", f"{first:%Y-%m}", Window(_utc(first), _utc(nxt)))


def week(any_day: date | datetime) -> Period:
    """The ISO week (Monday to Monday, UTC) containing `any_day`."""
    day = any_day.date() if isinstance(any_day, datetime) else any_day
    year, wk, _ = day.isocalendar()
    monday = date.fromisocalendar(year, wk, 1)
    return Period(
        "week", f"{year}-W{wk:02d}", Window(_utc(monday), _utc(monday + timedelta(days=7)))
    )


# No collected data is older than Unix time; the report also reads the period after the end and
# the one before (the trend), which must still be dates Python can hold.
FIRST_YEAR, LAST_YEAR = 1970, 9998


def parse_period(text: str) -> Period:
    """'2026-11' -> that month; '2026-W47' -> that ISO week. Raises UsageError otherwise."""
    value = text.strip()
    m = _MONTH.match(value) or _WEEK.match(value)
    if m and not FIRST_YEAR <= int(m.group(1)) <= LAST_YEAR:
        raise UsageError(
            f"--period {text!r}: the year must be between {FIRST_YEAR} and {LAST_YEAR}"
        )
    if m := _MONTH.match(value):
        year, mon = int(m.group(1)), int(m.group(2))
        if not 1 <= mon <= 12:
            raise UsageError(f"--period {text!r}: month must be 01-12")
        return month(date(year, mon, 1))
    if m := _WEEK.match(value):
        year, wk = int(m.group(1)), int(m.group(2))
        try:
            return week(date.fromisocalendar(year, wk, 1))
        except ValueError:
            raise UsageError(f"--period {text!r}: {year} has no ISO week {wk}") from None
    raise UsageError(
        f"--period must look like 2026-11 (month) or 2026-W47 (ISO week), not {text!r}"
    )


def default_period(first: datetime | None, last: datetime | None) -> Period:
    """The last complete month within [first, last), else the last complete ISO week."""
    if first is None or last is None or last <= first:
        raise UsageError(
            "the database holds no allocation yet: run `costlab allocate` (or `costlab demo`) first"
        )
    candidate = month(last - timedelta(microseconds=1))
    while candidate.window.start >= first:
        if candidate.window.end <= last:
            return candidate
        candidate = candidate.previous()
    candidate = week(last - timedelta(microseconds=1))
    while candidate.window.start >= first:
        if candidate.window.end <= last:
            return candidate
        candidate = candidate.previous()
    raise UsageError(
        f"the allocation spans {first:%Y-%m-%d %H:%M} to {last:%Y-%m-%d %H:%M} UTC, which holds no complete "
        "month or ISO week: pass --period YYYY-MM or YYYY-Www to report a partial period"
    )
