"""Clip a requested window to the recorded data, so a window of decades does not run for minutes
allocating (and writing) empty chunks."""

from __future__ import annotations

import logging
from datetime import datetime

import duckdb

from costlab.allocate.gpu import data_bounds
from costlab.errors import UsageError
from costlab.timeutil import HOUR, Window, ceil_hour, floor_hour

log = logging.getLogger(__name__)


def clip_window(conn: duckdb.DuckDBPyConnection, window: Window) -> Window:
    """`window` narrowed to the hours holding recorded data, with a note when it was narrowed.

    Outside that extent there is nothing to allocate: no node ran there that costlab saw. A
    window that misses the data entirely is a UsageError naming the extent."""
    first, horizon = data_bounds(conn)
    if first is None or horizon is None:
        return window
    extent = Window(floor_hour(first), max(ceil_hour(horizon), floor_hour(first) + HOUR))
    lo, hi = max(window.start, extent.start), min(window.end, extent.end)
    if lo >= hi:
        raise UsageError(
            f"the window {_iso(window.start)} to {_iso(window.end)} holds no recorded data "
            f"(it spans {_iso(extent.start)} to {_iso(extent.end)})"
        )
    if (lo, hi) == (window.start, window.end):
        return window
    log.warning(
        "note: window %s to %s clipped to the recorded data, %s to %s",
        _iso(window.start),
        _iso(window.end),
        _iso(lo),
        _iso(hi),
    )
    return Window(lo, hi)


def _iso(ts: datetime) -> str:
    return ts.isoformat(timespec="minutes").replace("+00:00", "Z")
