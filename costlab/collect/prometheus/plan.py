"""Planning a Prometheus collection: shards, their windows and their chunks.

A shard is one group of series of one cluster (`settings.clusters`; one shard per group when
unsharded). Its window is [watermark - lag, now) on an incremental run (now - initial_lookback
without a watermark) or the requested backfill window, aligned to the group's step, which is never
shorter than the scrape interval of its series (`StepChooser`, `scrape_intervals`). Chunks respect
Prometheus' 11,000 points per series and `max_samples_per_query` series x points.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import duckdb

from costlab.collect import sink
from costlab.collect.prometheus.client import PromClient
from costlab.collect.prometheus.context import (
    SOURCE,
    CollectReport,
    Ctx,
    Group,
    GroupReport,
    log,
    wm_series,
)
from costlab.collect.prometheus.query import shard_matchers
from costlab.collect.prometheus.scrape_intervals import measure_scrape_interval, safe_step
from costlab.collect.prometheus.settings import PrometheusSettings
from costlab.timeutil import Window


@dataclass
class Shard:
    """One group of one cluster (`ctx.shard`, None when unsharded) and its chunks."""

    group: Group
    ctx: Ctx
    rep: GroupReport
    chunks: list[Window]
    order: tuple[int, int] = (0, 0)  # (group index, cluster index): ties between equal times
    last_seen: dict[str, datetime] = field(default_factory=dict)


def floor_ts(ts: datetime, step: timedelta) -> datetime:
    s = step.total_seconds()
    return datetime.fromtimestamp((ts.timestamp() // s) * s, UTC)


def ceil_ts(ts: datetime, step: timedelta) -> datetime:
    f = floor_ts(ts, step)
    return f if f == ts else f + step


def plan_chunks(
    window: Window, step: timedelta, n_series: int, max_points: int, max_samples: int
) -> list[Window]:
    """Cut a step-aligned window into chunks of at most `max_points` evaluation points per series
    and `max_samples` series x points in all."""
    points = max(1, min(max_points, max_samples // max(n_series, 1)))
    span = step * points
    chunks, a = [], window.start
    while a < window.end:
        b = min(window.end, a + span)
        chunks.append(Window(a, b))
        a = b
    return chunks


def group_window(
    conn: duckdb.DuckDBPyConnection,
    group: Group,
    settings: PrometheusSettings,
    step: timedelta,
    window: Window | None,
    now: datetime,
    shard: str | None = None,
) -> Window | None:
    """The range a group (of one cluster shard) fetches this run, or None when up to date."""
    if window is not None:
        start, end = floor_ts(window.start, step), ceil_ts(window.end, step)
    else:
        marks = [
            sink.get_watermark(conn, SOURCE, wm_series(settings, q.name, shard))
            for q in group.queries
        ]
        known = [m for m in marks if m is not None]
        start = (
            min(known) - settings.lag
            if len(known) == len(marks)
            else now - settings.initial_lookback
        )
        start, end = floor_ts(start, step), floor_ts(now, step)
    return Window(start, end) if end > start else None


class StepChooser:
    """The step of each group (of each cluster shard): never shorter than the longest scrape
    interval of its series (`scrape_intervals`), so no grid point lacks a scrape that was made.

    Configured `step` (or `price_step`) if set, else `min_step`; raised to the safe step of the
    group's scrape interval when that is longer (a warning when a configured step was raised).
    Intervals are measured (`measure`, before any `step`) at the end of the window, else at its
    start or middle (a series that stopped before the end), once per selector and run.
    """

    def __init__(
        self, client: PromClient, settings: PrometheusSettings, report: CollectReport
    ) -> None:
        self.client, self.settings, self.report = client, settings, report
        self.measured: dict[str, timedelta | None] = {}

    def selectors(self, groups: tuple[Group, ...], clusters: list[str | None]) -> list[str]:
        out = [
            q.selector(shard_matchers(self.settings, c))
            for g in groups
            for c in clusters
            for q in g.queries
        ]
        return list(dict.fromkeys(out))

    def measure(self, selectors: list[str], at: list[datetime]) -> None:
        """Measure selectors `max_concurrency` at a time (one request each, more for a series
        absent at the end of the range)."""

        failed = threading.Event()

        def one(selector: str) -> timedelta | None:
            if failed.is_set():  # one probe failed: the run fails, start no more requests
                return None
            try:
                for t in at:
                    found = measure_scrape_interval(
                        self.client, selector, t, self.settings.scrape_interval_window
                    )
                    if found is not None:
                        return found.longest
                return None
            except BaseException:
                failed.set()
                raise

        with ThreadPoolExecutor(max_workers=self.settings.max_concurrency) as pool:
            jobs = [pool.submit(one, selector) for selector in selectors]
        found = [job.result() for job in jobs]
        self.measured.update(zip(selectors, found, strict=True))

    def step(self, group: Group, cluster: str | None) -> tuple[timedelta, timedelta | None]:
        """(step, the group's longest scrape interval or None when none was measured)."""
        s = self.settings
        configured = s.price_step if group.price_step else s.step
        extra = shard_matchers(s, cluster)
        found = {q.metric: self.measured[q.selector(extra)] for q in group.queries}
        known = {m: i for m, i in found.items() if i is not None}
        for metric, i in known.items():
            self.report.scrape_intervals[wm_series(s, metric, cluster)] = i
        step = configured if configured is not None else s.min_step
        if not known:
            return step, None
        metric, interval = max(known.items(), key=lambda kv: kv[1])
        if safe_step(interval) > step:
            if configured is not None:
                where = f" in cluster {cluster}" if cluster else ""
                message = (
                    f"{group.name}{where}: step {_human(configured)} is shorter than the scrape "
                    f"interval of {metric} ({_human(interval)}); collected at "
                    f"{_human(safe_step(interval))} so that no scrape is lost"
                )
                log.warning("%s", message)
                self.report.warnings.append(message)
            step = safe_step(interval)
        return step, interval


def _human(d: timedelta) -> str:
    s = d.total_seconds()
    return f"{s:g}s" if s < 120 or s % 60 else f"{s / 60:g}m"


def probe_times(
    settings: PrometheusSettings, window: Window | None, now: datetime
) -> list[datetime]:
    """Where scrape intervals are measured: the end of the run's range, else near its start,
    else its middle."""
    start, end = (window.start, window.end) if window else (now - settings.initial_lookback, now)
    end = min(end, now)
    first = min(end, start + settings.scrape_interval_window)
    return list(dict.fromkeys([end, first, start + (end - start) / 2]))


def count_series(
    client: PromClient, group: Group, settings: PrometheusSettings, window: Window, extra: str
) -> int:
    """Series of a group's queries in the window (sizes its chunks)."""
    return sum(
        client.series_count(q.count_selector(extra), window.start, window.end)
        for q in group.queries
    )


def plan_shards(
    conn: duckdb.DuckDBPyConnection,
    client: PromClient,
    run: sink.CollectionRun,
    report: CollectReport,
    groups: tuple[Group, ...],
    settings: PrometheusSettings,
    window: Window | None,
    now: datetime,
) -> list[Shard]:
    """One shard per (group, cluster) with something to fetch; series counts in parallel."""
    clusters: list[str | None] = list(settings.clusters) or [None]
    todo: list[tuple[Shard, str]] = []
    steps = StepChooser(client, settings, report)
    steps.measure(steps.selectors(groups, clusters), probe_times(settings, window, now))
    for gi, group in enumerate(groups):
        for ci, cluster in enumerate(clusters):
            step, interval = steps.step(group, cluster)
            rep = GroupReport(
                group.name,
                group_window(conn, group, settings, step, window, now, cluster),
                cluster,
                step=step,
                scrape_interval=interval,
            )
            report.groups.append(rep)
            if rep.window is None:
                continue
            ctx = Ctx(conn, settings, run, report, step, window is None, shard=cluster)
            todo.append((Shard(group, ctx, rep, [], (gi, ci)), shard_matchers(settings, cluster)))
    failed = threading.Event()

    def count(shard: Shard, extra: str) -> int:
        if failed.is_set():  # one count failed: the run fails, do not start more requests
            return 0
        try:
            return count_series(client, shard.group, settings, shard.rep.window, extra)  # type: ignore[arg-type]
        except BaseException:
            failed.set()
            raise

    with ThreadPoolExecutor(max_workers=settings.max_concurrency) as pool:
        jobs = [pool.submit(count, shard, extra) for shard, extra in todo]
    counts = [job.result() for job in jobs]
    for (shard, _), n in zip(todo, counts, strict=True):
        assert shard.rep.window is not None
        shard.chunks = plan_chunks(
            shard.rep.window,
            shard.ctx.step,
            n,
            settings.max_points_per_series,
            settings.max_samples_per_query,
        )
    return [shard for shard, _ in todo]
