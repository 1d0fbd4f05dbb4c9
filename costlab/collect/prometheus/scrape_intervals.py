"""Scrape intervals of real series, measured from their samples, and the step that is safe for them.

Every collector query is `last_over_time(sel[step - 1ms])` on a step grid, and each point stands
for one step of time. A step shorter than the series' scrape interval leaves grid points without
a scrape: time silently lost (a 15 s step over a 60 s scrape keeps a quarter of it). A step at
least as long as the longest gap between two consecutive scrapes cannot lose any: every window
(t - step, t] then holds a scrape. So the collector measures that gap and never uses a shorter
step.

Public API (also for `costlab doctor`):

    detect_scrape_intervals(client, metrics, at, *, matchers="", window=10m)
        -> dict[str, timedelta | None]

For each metric name: the longest *regular* gap between consecutive samples of any of its series
in (at - window, at], or None when no series has two samples there. `matchers` (e.g.
`cluster="prod"`) are added to every selector. `measure_scrape_interval` gives the details
(`ScrapeInterval`: typical and longest gap, series count) for one selector, and `safe_step`
rounds an interval up to the step the collector uses.

How: one instant query of the range vector `<selector>[<window>]` per metric, which returns every
raw sample in the window (Prometheus, Thanos, Mimir/Cortex, VictoriaMetrics and AMP all do), read
with the collector's fast matrix parser. Per series, gaps longer than 1.5 x its median gap are
missed scrapes, not the interval, and are ignored; the metric's interval is the longest remaining
gap over all its series (so scrape jitter, and a slower job exporting the same metric, raise it).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

import polars as pl

from costlab.collect.prometheus.client import (
    PromClient,
    api_data,
    matrix_bytes_to_frame,
    matrix_to_frame,
    result_of,
)

DEFAULT_WINDOW = timedelta(minutes=10)
MISSED_FACTOR = 1.5  # a gap longer than this many median gaps of its series is a missed scrape
# Steps the collector picks from: a few round values, so that the grid (and the sample
# timestamps stored) stays the same from run to run although jitter moves the measured gap.
LADDER_S = (1, 2, 3, 5, 10, 15, 20, 30, 45, 60, 90, 120, 180, 300, 600, 900, 1800, 3600)


@dataclass(frozen=True)
class ScrapeInterval:
    typical: timedelta  # the median gap between consecutive samples, over all series
    longest: timedelta  # the longest regular gap (no missed scrape) of any series
    series: int  # series with at least two samples in the window


def measure_scrape_interval(
    client: PromClient, selector: str, at: datetime, window: timedelta = DEFAULT_WINDOW
) -> ScrapeInterval | None:
    """Gaps between the raw samples of `selector`'s series in (at - window, at]."""
    query = f"{selector}[{round(window.total_seconds() * 1000)}ms]"
    body = client.query_body(query, at)
    frame = matrix_bytes_to_frame("m", body)
    if frame is None:
        kind, result = result_of("query", api_data("query", body))
        frame = matrix_to_frame("m", result if kind == "matrix" else [])
    labels = [c for c in frame.columns if c not in ("metric", "ts", "value")]
    if frame.height < 2:
        return None
    key = pl.struct(labels).hash() if labels else pl.lit(0, dtype=pl.UInt64)
    gaps = (
        frame.select(key.alias("_sid"), "ts")
        .sort("_sid", "ts")
        .with_columns(pl.col("ts").diff().over("_sid").dt.total_milliseconds().alias("gap_ms"))
        .drop_nulls("gap_ms")
        .filter(pl.col("gap_ms") > 0)
    )
    if gaps.height == 0:
        return None
    per_series = (
        gaps.with_columns(pl.col("gap_ms").median().over("_sid").alias("_median"))
        .filter(pl.col("gap_ms") <= pl.col("_median") * MISSED_FACTOR)
        .group_by("_sid")
        .agg(pl.col("gap_ms").max().alias("longest"))
    )
    return ScrapeInterval(
        typical=timedelta(milliseconds=float(gaps["gap_ms"].median())),  # type: ignore[arg-type]
        longest=timedelta(milliseconds=int(per_series["longest"].max())),  # type: ignore[arg-type]
        series=per_series.height,
    )


def detect_scrape_intervals(
    client: PromClient,
    metrics: list[str],
    at: datetime,
    *,
    matchers: str = "",
    window: timedelta = DEFAULT_WINDOW,
) -> dict[str, timedelta | None]:
    """Each metric's longest regular gap between scrapes before `at` (see the module docstring);
    None when it has no series with two samples in the window."""
    out: dict[str, timedelta | None] = {}
    for metric in metrics:
        found = measure_scrape_interval(client, selector(metric, matchers), at, window)
        out[metric] = found.longest if found else None
    return out


def selector(metric: str, matchers: str = "") -> str:
    return f"{metric}{{{matchers}}}" if matchers else metric


def safe_step(interval: timedelta) -> timedelta:
    """The smallest round step (LADDER_S, then whole minutes) not shorter than `interval`."""
    s = interval.total_seconds()
    for rung in LADDER_S:
        if rung >= s:
            return timedelta(seconds=rung)
    return timedelta(minutes=math.ceil(s / 60))
