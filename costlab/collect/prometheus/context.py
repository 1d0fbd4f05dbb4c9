"""What the Prometheus collector's loaders share: reports, the per-group context, groups, and the
small DuckDB helpers loaders use to read back and replace stored rows."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import duckdb
import polars as pl

from costlab import store
from costlab.collect import sink
from costlab.collect.prometheus.query import Query
from costlab.collect.prometheus.settings import PrometheusSettings
from costlab.timeutil import Window

log = logging.getLogger("costlab.collect.prometheus")

SOURCE = "prometheus"


@dataclass
class GroupReport:
    name: str
    window: Window | None = None
    cluster: str | None = None  # the shard's cluster when `clusters` is set
    step: timedelta | None = None  # the step used (each point stands for this much time)
    scrape_interval: timedelta | None = None  # the group's longest scrape interval measured
    chunks: int = 0
    samples: int = 0
    rows: int = 0
    quarantined: int = 0


@dataclass
class CollectReport:
    run_id: str
    mode: str  # incremental | backfill
    groups: list[GroupReport] = field(default_factory=list)
    gaps: list[tuple[str, datetime, datetime, str]] = field(default_factory=list)
    requests: int = 0
    retries: int = 0
    counters: dict[str, float] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    # measured scrape interval per metric (`metric@cluster` per shard or fixed cluster)
    scrape_intervals: dict[str, timedelta] = field(default_factory=dict)

    @property
    def rows(self) -> int:
        return sum(g.rows for g in self.groups)

    @property
    def quarantined(self) -> int:
        return sum(g.quarantined for g in self.groups)


def wm_series(settings: PrometheusSettings, metric: str, shard: str | None = None) -> str:
    """Watermark series name of a metric: `metric`, or `metric@<cluster>` with a fixed cluster
    (`cluster`) or per cluster shard (`clusters`)."""
    cluster = settings.cluster or shard
    return f"{metric}@{cluster}" if cluster else metric


@dataclass
class Ctx:
    """One group's loading state within a run (the loaders' only handle on the database)."""

    conn: duckdb.DuckDBPyConnection
    settings: PrometheusSettings
    run: sink.CollectionRun
    report: CollectReport
    step: timedelta
    incremental: bool
    shard: str | None = None  # the cluster this context collects, when sharded by cluster
    clusters: set[str] = field(default_factory=set)  # clusters seen so far in this group
    state: dict[str, Any] = field(default_factory=dict)  # a loader's memory between chunks

    @property
    def tolerance(self) -> timedelta:
        return self.step * self.settings.gap_factor

    def wm_series(self, metric: str) -> str:
        return wm_series(self.settings, metric, self.shard)

    def gap(self, name: str, start: datetime, end: datetime, kind: str) -> None:
        if end <= start:
            return
        sink.record_gap(self.conn, SOURCE, name, Window(start, end), kind, self.run.run_id)
        self.report.gaps.append((name, start, end, kind))

    def warn(self, message: str) -> None:
        if message not in self.report.warnings:
            log.warning("%s", message)
            self.report.warnings.append(message)

    def load(
        self, table: str, frame: pl.DataFrame, group: GroupReport, *, append: bool = False
    ) -> pl.DataFrame:
        """Validate, quarantine and upsert (or, with `append`, insert: see `sink.load`) rows;
        returns the rows written."""
        good, rep = sink.validate(self.conn, table, frame, run_id=self.run.run_id)
        write = sink.append_rows if append else sink.upsert_rows
        rep.loaded = write(self.conn, table, good)
        self.run.reports.append(rep)
        group.rows += rep.loaded
        group.quarantined += rep.quarantined
        return good


Loader = Callable[[Ctx, pl.DataFrame, datetime, datetime, GroupReport], None]


@dataclass(frozen=True)
class Group:
    name: str
    queries: tuple[Query, ...]
    loader: Loader
    price_step: bool = False


# ------------------------------------------------------------------------- helpers for loaders


def horizon(ctx: Ctx, metric: str, b: datetime) -> datetime:
    """The newest time data was fetched for: the chunk end, or a later stored watermark."""
    wm = sink.get_watermark(ctx.conn, SOURCE, ctx.wm_series(metric))
    return max(b, wm) if wm else b


def frame_of(rel: duckdb.DuckDBPyRelation) -> pl.DataFrame:
    out = pl.from_arrow(rel.to_arrow_table())
    assert isinstance(out, pl.DataFrame)
    return out.with_columns(pl.col(pl.Datetime).dt.cast_time_unit("us"))


def existing(ctx: Ctx, sql_name: str, keys: pl.DataFrame, since: datetime | None) -> pl.DataFrame:
    """Stored rows of `sql_name` for `keys` (registered as _prom_keys), last seen since `since`."""
    ctx.conn.register("_prom_keys", keys.to_arrow())
    try:
        params = {"since": since} if since is not None else None
        return frame_of(ctx.conn.sql(store.load_sql(sql_name), params=params))
    finally:
        ctx.conn.unregister("_prom_keys")


def drop_rows(ctx: Ctx, drop: pl.DataFrame, sql_names: tuple[str, ...]) -> None:
    """Run the delete statements `sql_names` over `drop` (registered as _prom_drop)."""
    if drop.height == 0:
        return
    ctx.conn.register("_prom_drop", drop.to_arrow())
    try:
        for name in sql_names:
            ctx.conn.execute(store.load_sql(name))
    finally:
        ctx.conn.unregister("_prom_drop")


def register_exec(ctx: Ctx, name: str, frame: pl.DataFrame, sql_name: str) -> None:
    ctx.conn.register(name, frame.to_arrow())
    try:
        ctx.conn.execute(store.load_sql(sql_name))
    finally:
        ctx.conn.unregister(name)


def open_keys(ctx: Ctx, table: str, keys: list[str]) -> pl.DataFrame:
    """Keys of open intervals in the clusters this run collects: a chunk may have to close them."""
    if not ctx.clusters:
        return pl.DataFrame(schema={k: pl.String for k in keys})
    rel = ctx.conn.table(table).filter("end_ts IS NULL").select(*keys)
    found = rel.pl()
    return found.filter(pl.col("cluster").is_in(sorted(ctx.clusters)))
