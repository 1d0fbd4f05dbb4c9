"""Collect DCGM, kube-state-metrics and Karpenter series from a Prometheus-compatible API.

`collect(conn, window=None, settings=...)` reads, per *group* of metrics (and per cluster when
`settings.clusters` shards the work), the range to fetch: with no window it starts at the
group's per-metric watermark minus `lag` (or `initial_lookback` before now on a first run) and
ends at now; with a window it is a stateless backfill that does not move watermarks. The range
is cut into chunks that respect Prometheus' 11,000 points per series and
`max_samples_per_query` (`prom_plan`); chunks are fetched by up to `max_concurrency` threads and
loaded one at a time, in time order per shard (`prom_run`): turned into rows by
`costlab.collect.series` (the same transforms the demo uses) and written with their watermark in
one transaction, so a killed run loses at most the chunks in flight and a rerun continues where
it stopped.

Every query is `last_over_time(<selector>[<step - 1ms>])` evaluated at `step` (`prom_query`): a
point exists only when a real scrape fell in the step before it, so missing scrapes stay missing
(never carried forward by Prometheus' 5-minute lookback) and become `collection_gaps` rows. Each
group's step is at least the scrape interval measured on its series (`scrape_intervals`), so a
point is missing only when a scrape was.
Presence series (nodes, pod GPU requests) become intervals at step resolution, merged across
chunks and runs by `prom_intervals.merge_presence`. See docs/collect-prometheus.md.

This module is the entry point (`collect`, `collect_from_cli`, `render`) and re-exports the names
other code imports from it; the work is in the `prom_*` modules.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb

from costlab import store
from costlab.collect import sink
from costlab.collect.prometheus.context import (
    SOURCE,
    CollectReport,
    Group,
    GroupReport,
    wm_series,
)
from costlab.collect.prometheus.groups import (
    COUNTERS,
    DCGM,
    GPU_REQUESTS,
    GROUPS,
    LABELS,
    NODE_LABELS,
    NODES,
    PODS,
    PRICES,
    resolve,
)
from costlab.collect.prometheus.loaders import PRICE_METRIC
from costlab.collect.prometheus.nodes import DISRUPTED_METRIC, END_REASONS
from costlab.collect.prometheus.plan import plan_chunks, plan_shards
from costlab.collect.prometheus.query import Query, make_client
from costlab.collect.prometheus.run import fetch_chunk, run_shards
from costlab.collect.prometheus.settings import PrometheusSettings, format_duration, parse_duration
from costlab.config import settings_for
from costlab.errors import UsageError
from costlab.progress import progress_bar
from costlab.timeutil import Window, parse_ts

__all__ = [
    "COUNTERS",
    "DCGM",
    "DISRUPTED_METRIC",
    "END_REASONS",
    "GPU_REQUESTS",
    "GROUPS",
    "LABELS",
    "NODES",
    "NODE_LABELS",
    "PODS",
    "PRICES",
    "PRICE_METRIC",
    "SOURCE",
    "CollectReport",
    "Group",
    "GroupReport",
    "PrometheusSettings",
    "Query",
    "collect",
    "collect_from_cli",
    "fetch_chunk",
    "format_duration",
    "make_client",
    "parse_duration",
    "plan_chunks",
    "render",
    "wm_series",
]


def collect(
    conn: duckdb.DuckDBPyConnection,
    *,
    window: Window | None = None,
    settings: PrometheusSettings,
    now: datetime | None = None,
    console: Any = None,
    groups: tuple[Group, ...] = GROUPS,
) -> CollectReport:
    """Fetch, transform and load every group (per cluster shard when `settings.clusters` is set);
    see the module docstring."""
    now = now or datetime.now(UTC)
    groups = resolve(groups, settings)
    client = make_client(settings)
    try:
        with sink.collection_run(conn, SOURCE, window) as run:
            report = CollectReport(run.run_id, "backfill" if window else "incremental")
            shards = plan_shards(conn, client, run, report, groups, settings, window, now)
            total = sum(len(s.chunks) for s in shards)
            with progress_bar(console, total) as progress:
                task = progress.add_task("prometheus", total=total)
                run_shards(shards, client, settings.max_concurrency, progress, task)
            report.requests, report.retries = client.stats.requests, client.stats.retries
            return report
    finally:
        client.close()


# ------------------------------------------------------------------------------------------ CLI


def render(report: CollectReport) -> Any:
    from rich.console import Group as RichGroup
    from rich.table import Table

    table = Table(title=f"Prometheus collection {report.run_id} ({report.mode})")
    numeric = ("scrape interval", "step", "chunks", "samples", "rows", "quarantined")
    for col in ("group", "from", "to", *numeric):
        table.add_column(col, justify="right" if col in numeric else "left")
    for g in report.groups:
        table.add_row(
            f"{g.name}@{g.cluster}" if g.cluster else g.name,
            g.window.start.isoformat() if g.window else "up to date",
            g.window.end.isoformat() if g.window else "",
            _seconds(g.scrape_interval),
            _seconds(g.step),
            str(g.chunks),
            str(g.samples),
            str(g.rows),
            str(g.quarantined),
        )
    parts: list[Any] = [
        table,
        f"{report.requests} requests, {report.retries} retried, "
        f"{len(report.gaps)} gap(s), {report.quarantined} row(s) quarantined",
    ]
    for message in report.warnings[:20]:
        parts.append(f"[yellow]warning[/yellow]: {message}")
    if report.gaps:
        gaps = Table(title="Gaps (not interpolated)")
        for col in ("kind", "series", "from", "to"):
            gaps.add_column(col)
        for name, start, end, kind in report.gaps[:20]:
            gaps.add_row(kind, name, start.isoformat(), end.isoformat())
        if len(report.gaps) > 20:
            gaps.caption = f"... and {len(report.gaps) - 20} more in collection_gaps"
        parts.append(gaps)
    return RichGroup(*parts)


def _seconds(d: timedelta | None) -> str:
    return "n/a" if d is None else f"{d.total_seconds():g}s"


def collect_from_cli(
    db_path: Path | str,
    *,
    url: str,
    start: str | None,
    end: str | None,
    step: str | None,
    cluster: str | None,
    console: Any = None,
    clusters: list[str] | None = None,
    concurrency: int | None = None,
) -> Any:
    # Only options given on the command line override costlab.toml and COSTLAB_PROM_*.
    overrides: dict[str, Any] = {"url": url}
    if step is not None:
        overrides["step"] = step
    if cluster:
        overrides["cluster"] = cluster
    if clusters:
        overrides["clusters"] = [c.strip() for item in clusters for c in item.split(",") if c]
    if concurrency is not None:
        overrides["max_concurrency"] = concurrency
    settings = settings_for(PrometheusSettings, "prometheus", **overrides)
    window = None
    if start or end:
        if not start:
            raise UsageError(
                "--end needs --start (without both, the collector continues from its watermark)"
            )
        window = Window(parse_ts(start), parse_ts(end) if end else datetime.now(UTC))
    conn = store.connect(db_path)
    try:
        return render(collect(conn, window=window, settings=settings, console=console))
    finally:
        conn.close()
