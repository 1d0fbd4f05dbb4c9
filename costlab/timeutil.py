"""Time values: UTC everywhere, half-open windows as one value object."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from costlab.errors import UsageError

HOUR = timedelta(hours=1)
LATEST = datetime(9999, 12, 31, 23, tzinfo=UTC)


def parse_ts(text: str) -> datetime:
    """Parse an ISO-8601 date or datetime; naive values are taken as UTC."""
    try:
        value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise UsageError(
            f"not an ISO-8601 date/time: {text!r} (e.g. 2026-11-01 or 2026-11-01T06:00Z)"
        ) from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    try:
        value = value.astimezone(UTC)
    except OverflowError:
        raise UsageError(f"{text!r} is outside the years 1 to 9999") from None
    if value > LATEST:
        # later times cannot be rounded up to a whole hour
        raise UsageError(
            f"{text!r} is after {LATEST:%Y-%m-%dT%H:%MZ}, the latest time costlab takes"
        )
    return value


def floor_hour(ts: datetime) -> datetime:
    return ts.replace(minute=0, second=0, microsecond=0)


def ceil_hour(ts: datetime) -> datetime:
    floored = floor_hour(ts)
    return floored if floored == ts else floored + HOUR


@dataclass(frozen=True)
class Window:
    """A half-open UTC interval [start, end)."""

    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise UsageError("window bounds must be timezone-aware")
        if self.end <= self.start:
            raise UsageError(
                f"window end {self.end.isoformat()} is not after start {self.start.isoformat()}"
            )

    @property
    def hours(self) -> float:
        return (self.end - self.start).total_seconds() / 3600

    def hour_aligned(self) -> Window:
        """The smallest window of whole hours that contains this one."""
        return Window(floor_hour(self.start), ceil_hour(self.end))

    def split(self, at: datetime) -> tuple[Window, Window]:
        return Window(self.start, at), Window(at, self.end)
