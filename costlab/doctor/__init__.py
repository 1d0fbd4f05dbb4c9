"""`costlab doctor`: a preflight over the series costlab reads from Prometheus.

`checks` is the table of series (what, why, fix), `probe` asks Prometheus about each, `render`
prints the report. `doctor_from_cli` is the command's entry point.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from costlab.collect.prometheus.client import PromClient
from costlab.collect.prometheus.query import make_client, shard_matchers
from costlab.collect.prometheus.settings import PrometheusSettings, parse_duration
from costlab.config import settings_for
from costlab.doctor.probe import Report, run
from costlab.doctor.render import as_json, as_rich
from costlab.errors import CollectorError, UsageError
from costlab.redact import redact_url
from costlab.timeutil import parse_ts

__all__ = ["Report", "doctor", "doctor_from_cli"]

# A preflight should answer quickly: after the endpoint answered once, two short retries.
_MAX_RETRIES = 2


def _reachable(client: PromClient, url: str) -> None:
    """One query without retries, so a wrong URL is one line at once, not a retry log."""
    retries, client.max_retries = client.max_retries, 0
    try:
        client.query("1", datetime.now(UTC))
    except CollectorError as exc:
        detail = str(exc).split(": ", 1)[-1]
        raise CollectorError(
            f"cannot query Prometheus at {redact_url(url)}: {detail[:200]}"
        ) from None
    finally:
        client.max_retries = retries


def doctor(
    settings: PrometheusSettings,
    *,
    cluster: str | None = None,
    at: datetime | None = None,
    lookback: str = "1h",
) -> Report:
    if not settings.url.startswith(("http://", "https://")):
        raise UsageError(
            f"--url must start with http:// or https://, got {redact_url(settings.url)!r}"
        )
    window = parse_duration(lookback)
    if window.total_seconds() <= 0:
        raise UsageError(f"--lookback must be positive, got {lookback!r}")
    client = make_client(settings)
    try:
        _reachable(client, settings.url)
        client.max_retries = min(client.max_retries, _MAX_RETRIES)
        return run(
            client,
            url=redact_url(settings.url),  # shown in the report's title and JSON
            at=at or datetime.now(UTC),
            lookback=window,
            extra=shard_matchers(settings, cluster),
            cluster=cluster,
            cluster_label=settings.cluster_label,
        )
    finally:
        client.close()


def doctor_from_cli(
    *, url: str, fmt: str, cluster: str | None, at: str | None, lookback: str
) -> tuple[Any, int]:
    """The rendered report and the exit code (1 when allocation cannot work)."""
    settings = settings_for(PrometheusSettings, "prometheus", url=url)
    report = doctor(settings, cluster=cluster, at=parse_ts(at) if at else None, lookback=lookback)
    return (as_json(report) if fmt == "json" else as_rich(report)), report.exit_code
