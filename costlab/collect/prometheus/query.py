"""PromQL of the collector's queries and fetching one query over a range into a sample frame.

A `Query` names a series (plus matchers) and how it is read: always
`last_over_time(<selector>[<step - 1ms>])`, optionally wrapped (an aggregation) or restricted to
series that also have a sample of another query. `fetch` evaluates it at `step` over [a, b) and
splits the range in half when Prometheus refuses it as too large.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

import polars as pl

from costlab.collect.prometheus.client import PromClient, QueryTooLarge, SigV4
from costlab.collect.prometheus.settings import PrometheusSettings, format_duration
from costlab.errors import UsageError

SIGV4_MAX_RETRY_AFTER_S = 30.0


@dataclass(frozen=True)
class Query:
    metric: str
    matchers: str = ""
    lookback: bool = False  # also fetch `reason_lookback` before the chunk (counters, events)
    alias: str = ""  # frame metric and watermark name when the query is not the plain series
    wrap: str = ""  # PromQL around the last_over_time term, which replaces "{expr}"
    only_with: Query | None = None  # keep series that also have a sample of this query ...
    on: str = "{cluster}, namespace, pod"  # ... at the same step, matched on these labels
    count_with: Query | None = None  # series count that sizes chunks (when wrap aggregates)

    @property
    def name(self) -> str:
        return self.alias or self.metric

    def selector(self, extra: str) -> str:
        inner = ",".join(m for m in (self.matchers, extra) if m)
        return f"{self.metric}{{{inner}}}" if inner else self.metric

    def promql(self, rng: str, extra: str, cluster_label: str = "cluster") -> str:
        """`{cluster}` in `on` and `wrap` stands for the label that names the cluster."""
        expr = f"last_over_time({self.selector(extra)}[{rng}])"
        if self.only_with is not None:
            on = self.on.replace("{cluster}", cluster_label)
            expr = f"{expr} and on ({on}) {self.only_with.promql(rng, extra, cluster_label)}"
        if not self.wrap:
            return expr
        return self.wrap.replace("{cluster}", cluster_label).replace("{expr}", expr)

    def count_selector(self, extra: str) -> str:
        return (self.count_with or self).selector(extra)


def make_client(settings: PrometheusSettings) -> PromClient:
    if not settings.url:
        raise UsageError("no Prometheus URL: pass --url or set COSTLAB_PROM_URL")
    verify: bool | str = (
        settings.ca_bundle if (settings.verify_tls and settings.ca_bundle) else settings.verify_tls
    )
    auth = None
    retry_after = settings.max_retry_after_s
    if settings.sigv4:
        auth = SigV4(sigv4_region(settings), settings.sigv4_service)
        # urllib3 resends the request as signed, and AWS refuses a signature older than 5
        # minutes: keep all retries of a request well inside that.
        retry_after = min(retry_after, SIGV4_MAX_RETRY_AFTER_S)
    return PromClient(
        settings.url,
        auth=auth,
        headers=settings.headers,
        bearer_token=settings.bearer_token.get_secret_value() if settings.bearer_token else None,
        verify_tls=verify,
        timeout_s=settings.timeout_s,
        max_retries=settings.max_retries,
        backoff_s=settings.backoff_s,
        max_backoff_s=settings.max_backoff_s,
        max_retry_after_s=retry_after,
        query_params=settings.query_params,
    )


def shard_matchers(settings: PrometheusSettings, cluster: str | None) -> str:
    """Matchers added to every selector: `extra_matchers`, plus `<cluster_label>="<cluster>"`
    for a cluster shard."""
    if cluster is None:
        return settings.extra_matchers
    value = cluster.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    own = f'{settings.cluster_label}="{value}"'
    return ",".join(m for m in (settings.extra_matchers, own) if m)


def sigv4_region(settings: PrometheusSettings) -> str:
    """settings.sigv4_region, else botocore's configured region, else the AMP endpoint's."""
    if settings.sigv4_region:
        return settings.sigv4_region
    import botocore.session

    region = botocore.session.get_session().get_config_variable("region")
    found = re.search(r"aps-workspaces\.([a-z0-9-]+)\.amazonaws\.com", settings.url)
    if region or found:
        return str(region or found.group(1))  # type: ignore[union-attr]
    raise UsageError("SigV4 needs a region: set COSTLAB_PROM_SIGV4_REGION or AWS_REGION")


def fetch(
    client: PromClient,
    q: Query,
    a: datetime,
    b: datetime,
    step: timedelta,
    extra: str,
    cluster_label: str = "cluster",
) -> pl.DataFrame:
    """Evaluation points a, a+step, ..., < b; split in half when Prometheus says it is too large."""
    rng = format_duration(step - timedelta(milliseconds=1))
    try:
        frame = client.query_range_frame(
            q.name, q.promql(rng, extra, cluster_label), a, b - step, step.total_seconds()
        )
    except QueryTooLarge:
        if b - a <= step:
            raise
        mid = a + step * ((b - a) // step // 2)
        return pl.concat(
            [
                fetch(client, q, a, mid, step, extra, cluster_label),
                fetch(client, q, mid, b, step, extra, cluster_label),
            ],
            how="diagonal_relaxed",
        )
    client.stats.add(samples=frame.height)
    return frame


def with_cluster(
    frame: pl.DataFrame, settings: PrometheusSettings, shard: str | None = None
) -> pl.DataFrame:
    """The recorded `cluster` column: `settings.cluster`, else the shard's cluster, else the
    `cluster_label` label, else `default_cluster`."""
    label = settings.cluster_label
    if label != "cluster" and label in frame.columns:
        frame = frame.drop("cluster", strict=False).rename({label: "cluster"})
    if settings.cluster or shard:
        return frame.with_columns(pl.lit(settings.cluster or shard).alias("cluster"))
    if "cluster" in frame.columns:
        return frame.with_columns(pl.col("cluster").fill_null(settings.default_cluster))
    return frame.with_columns(pl.lit(settings.default_cluster).alias("cluster"))
