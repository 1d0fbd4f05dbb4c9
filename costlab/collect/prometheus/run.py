"""Running planned shards: fetch chunks in a bounded thread pool, load them one at a time.

A shard is one group of one cluster (or of every cluster, unsharded) over its planned chunks.
Chunks of all shards are fetched by at most `max_concurrency` threads, ahead of loading; loads run
on the caller's thread (the single DuckDB connection), in the order chunks were submitted, which
is time order within each shard. So at most `max_concurrency` + 1 chunks are in memory (the ones
fetched or being fetched, and the one being loaded), and interval merging, gap detection and
watermarks see each shard's chunks in the same order as a serial run.

A chunk's rows, gaps and watermarks are committed together, so a killed or failed run loses at
most the chunks in flight and a rerun continues from the watermarks.
"""

from __future__ import annotations

from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import datetime
from typing import Any

import polars as pl

from costlab import store
from costlab.collect import sink
from costlab.collect.prometheus.client import PromClient
from costlab.collect.prometheus.context import SOURCE, Ctx, Group, GroupReport
from costlab.collect.prometheus.plan import Shard, floor_ts
from costlab.collect.prometheus.query import fetch, shard_matchers, with_cluster
from costlab.timeutil import Window


def fetch_chunk(
    ctx: Ctx, client: PromClient, group: Group, chunk: Window
) -> list[tuple[str, pl.DataFrame]]:
    """Every query of a group for one chunk (of one cluster shard); runs in a fetch thread."""
    s = ctx.settings
    extra = shard_matchers(s, ctx.shard)
    out = []
    for q in group.queries:
        start = floor_ts(chunk.start - s.reason_lookback, ctx.step) if q.lookback else chunk.start
        frame = fetch(client, q, start, chunk.end, ctx.step, extra, s.cluster_label)
        out.append((q.name, frame))
    return out


def load_chunk(
    ctx: Ctx,
    group: Group,
    chunk: Window,
    fetched: list[tuple[str, pl.DataFrame]],
    rep: GroupReport,
    last_seen: dict[str, datetime],
    *,
    final: bool,
) -> None:
    """Rows, gaps and watermarks of one chunk in one transaction."""
    a, b = chunk.start, chunk.end
    frames = []
    for metric, frame in fetched:
        if frame.height:
            frames.append(frame)
            latest = frame["ts"].max()
            if metric not in last_seen or latest > last_seen[metric]:  # type: ignore[operator]
                last_seen[metric] = latest  # type: ignore[assignment]
    frame = (
        with_cluster(pl.concat(frames, how="diagonal_relaxed"), ctx.settings, ctx.shard)
        if frames
        else pl.DataFrame()
    )
    if frame.height:
        ctx.clusters.update(frame["cluster"].unique().to_list())
    rep.samples += frame.height
    rep.chunks += 1
    with store.transaction(ctx.conn):
        group.loader(ctx, frame, a, b, rep)
        if final:  # a metric that stopped reporting before the end of the run: stale source
            for metric, ts in last_seen.items():
                if b - ctx.step - ts > ctx.tolerance:
                    name = metric if ctx.shard is None else f'{metric}{{cluster="{ctx.shard}"}}'
                    ctx.gap(name, ts + ctx.step, b, "stale")
        if ctx.incremental:
            for q in group.queries:
                sink.set_watermark(ctx.conn, SOURCE, ctx.wm_series(q.name), b)


def run_shards(
    shards: list[Shard], client: PromClient, max_concurrency: int, progress: Any, task: Any
) -> None:
    """Fetch up to `max_concurrency` chunks at once; load them in submission order.

    Chunks are submitted by group, then time, then cluster: the clusters of a group are fetched
    side by side and each shard's chunks load in time order. A chunk is loaded only after every
    chunk submitted before it, and its fetch result is released before the next one is awaited.
    """
    order = sorted(
        ((shard, i) for shard in shards for i in range(len(shard.chunks))),
        key=lambda t: (t[0].order[0], t[0].chunks[t[1]].start, t[0].order[1]),
    )
    todo = iter(order)
    pending: deque[tuple[Shard, int, Future]] = deque()
    pool = ThreadPoolExecutor(max_workers=max_concurrency, thread_name_prefix="prom-fetch")

    def submit() -> None:
        while len(pending) < max_concurrency:
            item = next(todo, None)
            if item is None:
                return
            shard, i = item
            job = pool.submit(fetch_chunk, shard.ctx, client, shard.group, shard.chunks[i])
            pending.append((shard, i, job))

    try:
        submit()
        while pending:
            shard, i, job = pending.popleft()
            fetched = job.result()
            del job  # the future holds the frames too
            submit()  # fetch ahead while this chunk loads
            chunk = shard.chunks[i]
            where = f"@{shard.ctx.shard}" if shard.ctx.shard else ""
            progress.update(
                task, description=f"{shard.group.name}{where} {chunk.start:%Y-%m-%d %H:%M}"
            )
            last = i == len(shard.chunks) - 1
            load_chunk(
                shard.ctx, shard.group, chunk, fetched, shard.rep, shard.last_seen, final=last
            )
            del fetched
            progress.advance(task)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
