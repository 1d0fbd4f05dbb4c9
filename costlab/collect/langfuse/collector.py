"""LangFuse collector: GENERATION observations into `llm_observations`, incrementally by time.

Reads `GET /api/public/v2/observations` through the official `langfuse` package's API client
(cursor pagination; the client retries 429/5xx and honours Retry-After). Each run reads
`[watermark - lookback, now)` clamped at the initial start, in chunks; every chunk's rows and
its watermark commit in one transaction, so an interrupted run resumes where it stopped and a
re-read (late or updated observations) upserts by observation id. A run with an explicit window
is a stateless backfill that neither reads nor moves the watermark.

Trace-level context: user, session and tags arrive denormalised on each generation; trace
metadata (tenant, deployment) comes from the trace's root observation.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import httpx
import pydantic
from langfuse.api.client import LangfuseAPI
from langfuse.api.core.api_error import ApiError
from rich.table import Table

from costlab import progress, store
from costlab.collect import sink
from costlab.collect.langfuse.map import observation_row, observations_frame
from costlab.collect.langfuse.settings import LangfuseSettings
from costlab.config import settings_for
from costlab.errors import CollectorError, UsageError
from costlab.redact import redact_text, redact_url
from costlab.timeutil import Window

log = logging.getLogger(__name__)

SOURCE = "langfuse"
SERIES = "generations"
TABLE = "llm_observations"
GENERATION_FIELDS = "core,basic,time,metadata,model,usage,metrics,trace_context"
ROOT_FIELDS = "core,basic,metadata,trace_context"


@dataclass
class CollectReport:
    """What one run did: the window read, rows loaded/quarantined, API pages and trace lookups."""

    window: Window | None
    stateful: bool
    run_id: str = ""
    chunks: int = 0
    pages: int = 0
    observations: int = 0
    loaded: int = 0
    quarantined: int = 0
    trace_lookups: int = 0
    without_tenant: int = 0
    watermark: datetime | None = None
    reasons: dict[str, int] = field(default_factory=dict)


def make_client(settings: LangfuseSettings) -> LangfuseAPI:
    """The official API client, authenticated with the project's key pair (HTTP basic auth)."""
    if not settings.public_key or settings.secret_key is None:
        raise UsageError("set LANGFUSE_PUBLIC_KEY and LANGFUSE_SECRET_KEY to read from LangFuse")
    secret = settings.secret_key
    return LangfuseAPI(
        base_url=settings.host.rstrip("/"),
        username=settings.public_key,
        # a callable: the secret is read per request, never copied into a string attribute
        password=secret.get_secret_value,
        x_langfuse_public_key=settings.public_key,
        x_langfuse_sdk_name="costlab",
        timeout=settings.timeout_s,
    )


def _api_failure(exc: Exception, host: str) -> CollectorError:
    host = redact_url(host)
    if isinstance(exc, ApiError):
        hint = {
            401: "check LANGFUSE_PUBLIC_KEY / LANGFUSE_SECRET_KEY",
            429: "rate limited after all retries",
        }
        body = redact_text(str(exc.body))[:200] if exc.body is not None else ""
        why = hint.get(exc.status_code or 0, "")
        status = exc.status_code
        return CollectorError(f"LangFuse {host} answered HTTP {status} {why}: {body}".strip())
    # httpx quotes the request URL, with the userinfo and query it was given
    return CollectorError(
        f"cannot reach LangFuse at {host}: " + redact_text(f"{type(exc).__name__}: {exc}")
    )


def _pages(
    client: LangfuseAPI, settings: LangfuseSettings, report: CollectReport, **filters: Any
) -> Iterator[list[dict]]:
    """Every page of one observations query, following the cursor until it is absent.

    A cursor seen before (a server looping) or more than `max_pages` pages is an error rather
    than an endless loop; empty pages that still carry a cursor are followed.
    """
    cursor: str | None = None
    seen: set[str] = set()
    options = {"max_retries": settings.max_retries}
    for _ in range(settings.max_pages):
        try:
            resp = client.observations.get_many(
                limit=settings.page_size, cursor=cursor, request_options=options, **filters
            )
        except (ApiError, httpx.HTTPError) as exc:
            raise _api_failure(exc, settings.host) from exc
        except pydantic.ValidationError as exc:
            raise CollectorError(
                f"LangFuse {redact_url(settings.host)} sent observations that do not match the API: "
                f"{exc.errors()[:3]}"
            ) from exc
        report.pages += 1
        yield [o.dict() for o in resp.data]
        cursor = resp.meta.cursor if resp.meta else None
        if not cursor:
            return
        if cursor in seen:
            raise CollectorError(f"LangFuse returned page cursor {cursor[:40]!r} twice; stopping")
        seen.add(cursor)
    raise CollectorError(
        f"more than {settings.max_pages} pages for one query; raise max_pages or narrow the window"
    )


def _generations(
    client: LangfuseAPI, settings: LangfuseSettings, chunk: Window, report: CollectReport
) -> list[dict]:
    found: dict[str, dict] = {}
    for page in _pages(
        client,
        settings,
        report,
        type="GENERATION",
        from_start_time=chunk.start,
        to_start_time=chunk.end,
        fields=GENERATION_FIELDS,
    ):
        for obs in page:
            if obs.get("type") == "GENERATION":
                found[obs["id"]] = obs  # a row repeated across pages: the later copy wins
    return list(found.values())


def _trace_roots(
    client: LangfuseAPI,
    settings: LangfuseSettings,
    chunk: Window,
    trace_ids: set[str],
    report: CollectReport,
) -> dict[str, dict]:
    """Root observation per trace id: one query over the chunk (widened by trace_slack), then a
    lookup per trace whose root started earlier than that."""
    roots: dict[str, dict] = {}
    if not trace_ids:
        return roots
    for page in _pages(
        client,
        settings,
        report,
        is_root_observation=True,
        from_start_time=chunk.start - settings.trace_slack,
        to_start_time=chunk.end,
        fields=ROOT_FIELDS,
    ):
        roots.update({o["traceId"]: o for o in page if o.get("traceId") in trace_ids})
    for trace_id in sorted(trace_ids - roots.keys()):
        report.trace_lookups += 1
        for page in _pages(
            client,
            settings,
            report,
            trace_id=trace_id,
            is_root_observation=True,
            fields=ROOT_FIELDS,
        ):
            roots.update({o["traceId"]: o for o in page if o.get("traceId") == trace_id})
    return roots


def _chunks(window: Window, settings: LangfuseSettings) -> Iterator[Window]:
    start = window.start
    while start < window.end:
        end = min(start + settings.chunk, window.end)
        yield Window(start, end)
        start = end


def plan_window(
    conn: duckdb.DuckDBPyConnection, settings: LangfuseSettings, now: datetime
) -> Window | None:
    """[watermark - lookback, now), never before the initial start; None when nothing is due."""
    initial = settings.initial_start or (now - settings.initial_history)
    watermark = sink.get_watermark(conn, SOURCE, SERIES)
    start = max(watermark - settings.lookback, initial) if watermark else initial
    return Window(start, now) if start < now else None


def collect(
    conn: duckdb.DuckDBPyConnection,
    *,
    settings: LangfuseSettings,
    window: Window | None = None,
    client: LangfuseAPI | None = None,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> CollectReport:
    """Load GENERATION observations into `llm_observations` (grain: one row per observation id).

    Without `window`: incremental from the stored watermark (minus `lookback`) to now, moving the
    watermark chunk by chunk. With `window`: a backfill of exactly that range, watermark untouched.
    """
    stateful = window is None
    if window is None:
        window = plan_window(conn, settings, now())
    report = CollectReport(window=window, stateful=stateful)
    if window is None:
        return report
    api = client or make_client(settings)
    chunks = list(_chunks(window, settings))
    with (
        sink.collection_run(conn, SOURCE, window) as run,
        progress.track("langfuse", len(chunks), "chunks") as bar,
    ):
        report.run_id = run.run_id
        for chunk in chunks:
            bar.update(description=f"langfuse {chunk.start:%Y-%m-%d %H:%M}")
            generations = _generations(api, settings, chunk, report)
            roots = _trace_roots(
                api,
                settings,
                chunk,
                {g["traceId"] for g in generations if g.get("traceId")},
                report,
            )
            rows = [
                observation_row(
                    g,
                    roots.get(g.get("traceId") or ""),
                    tenant_rule=settings.tenant_rule,
                    deployment_keys=settings.deployment_keys,
                )
                for g in generations
            ]
            with store.transaction(conn):
                loaded = sink.load(conn, TABLE, observations_frame(rows), run_id=run.run_id)
                if stateful:
                    sink.set_watermark(conn, SOURCE, SERIES, chunk.end)
            run.reports.append(loaded)
            report.chunks += 1
            report.observations += len(rows)
            report.without_tenant += sum(1 for r in rows if r["tenant"] is None)
            for reason, n in loaded.reasons.items():
                report.reasons[reason] = report.reasons.get(reason, 0) + n
            log.info("langfuse %s..%s: %d generation(s)", chunk.start, chunk.end, len(rows))
            bar.advance()
        report.loaded, report.quarantined = run.loaded, run.quarantined
    report.watermark = sink.get_watermark(conn, SOURCE, SERIES)
    return report


def render(report: CollectReport) -> Table:
    """A short rich summary of a run (no secrets: only counts, window and watermark)."""
    table = Table(title="LangFuse collection", show_header=False)
    if report.window is None:
        table.add_row("window", "nothing to do: watermark is at now")
        return table
    table.add_row("window", f"{report.window.start.isoformat()} .. {report.window.end.isoformat()}")
    table.add_row("mode", "incremental" if report.stateful else "backfill (watermark unchanged)")
    table.add_row("generations read", str(report.observations))
    table.add_row("rows loaded", str(report.loaded))
    table.add_row("rows quarantined", f"{report.quarantined} {report.reasons or ''}".strip())
    table.add_row("without tenant", str(report.without_tenant))
    table.add_row("API pages", str(report.pages))
    table.add_row("watermark", report.watermark.isoformat() if report.watermark else "-")
    return table


def collect_from_cli(db_path: Path, *, host: str, console: Any = None) -> Table:  # noqa: ARG001
    """`costlab collect langfuse --host URL`: incremental run with settings from the environment."""
    settings = settings_for(LangfuseSettings, "langfuse", host=host)
    client = make_client(settings)
    conn = store.connect(db_path)
    try:
        return render(collect(conn, settings=settings, client=client))
    finally:
        conn.close()
