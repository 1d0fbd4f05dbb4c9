"""Settings of the Prometheus collector and Prometheus durations.

`PrometheusSettings` is read from the environment (`COSTLAB_PROM_<FIELD>`) and the `[prometheus]`
section of costlab.toml; `parse_duration` accepts Prometheus durations ('15s', '1m30s', '2h').
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from costlab.collect.accelerators import DEFAULT_RESOURCES
from costlab.errors import UsageError

_DURATION = re.compile(r"(\d+)(ms|s|m|h|d|w)")
_UNIT = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(text: str | float | int | timedelta) -> timedelta:
    """Prometheus durations ('15s', '1m30s', '500ms', '2h') or seconds to a timedelta."""
    if isinstance(text, timedelta):
        return text
    if isinstance(text, int | float):
        return timedelta(seconds=float(text))
    s = str(text).strip()
    if re.fullmatch(r"\d+(\.\d+)?", s):
        return timedelta(seconds=float(s))
    parts = _DURATION.findall(s)
    if not parts or "".join(n + u for n, u in parts) != s:
        raise UsageError(f"not a duration: {text!r} (e.g. 15s, 1m, 1h30m)")
    return timedelta(seconds=sum(int(n) * _UNIT[u] for n, u in parts))


def format_duration(d: timedelta) -> str:
    return f"{round(d.total_seconds() * 1000)}ms"


class PrometheusSettings(BaseSettings):
    """Where and how to query. Environment: COSTLAB_PROM_<FIELD>, e.g. COSTLAB_PROM_BEARER_TOKEN,
    COSTLAB_PROM_HEADERS='{"X-Scope-OrgID": "team-a"}' (Mimir), COSTLAB_PROM_VERIFY_TLS=false."""

    model_config = SettingsConfigDict(env_prefix="COSTLAB_PROM_", extra="ignore")

    url: str = Field(
        "", description="Base URL of the Prometheus HTTP API (the part before /api/v1)."
    )
    bearer_token: SecretStr | None = Field(
        None, description="Sent as `Authorization: Bearer`; env only."
    )
    # Header and parameter values may be credentials (Authorization, X-Scope-OrgID, api keys):
    # kept out of the settings' repr and of config error messages.
    headers: dict[str, str] = Field(
        default_factory=dict,
        description="Extra HTTP headers, e.g. X-Scope-OrgID.",
        repr=False,
        json_schema_extra={"values_hidden": True},
    )
    verify_tls: bool = Field(True, description="Verify the server's TLS certificate.")
    ca_bundle: str | None = Field(None, description="CA bundle file for TLS verification.")
    timeout_s: float = Field(60.0, gt=0, description="Per-request timeout, seconds.")
    max_retries: int = Field(5, ge=0, description="Retries of a request on 5xx/429/timeouts.")
    backoff_s: float = Field(0.5, ge=0, description="First retry delay; doubles per retry.")
    max_backoff_s: float = Field(30.0, ge=0, description="Longest retry delay.")
    max_retry_after_s: float = Field(
        300.0, ge=0, description="Longest wait a server's Retry-After (429/503) can ask for."
    )
    step: timedelta | None = Field(
        None,
        description="Query resolution. Unset (auto): per group, the scrape interval detected "
        "from the samples, rounded up to a round step, at least `min_step`. A step below a "
        "group's scrape interval is raised to it, with a warning.",
    )
    min_step: timedelta = Field(timedelta(seconds=15), description="Floor of the automatic step.")
    scrape_interval_window: timedelta = Field(
        timedelta(minutes=10),
        description="How much of each series' recent samples the scrape interval is measured on.",
    )
    price_step: timedelta = Field(
        timedelta(minutes=5), description="Resolution of the price-estimate series."
    )
    lag: timedelta = Field(
        timedelta(minutes=2), description="Re-fetch this much before the watermark."
    )
    initial_lookback: timedelta = Field(
        timedelta(days=1), description="First run without a watermark: fetch this far back."
    )
    max_points_per_series: int = Field(
        11_000, ge=1, le=11_000, description="Prometheus' hard limit is 11,000."
    )
    max_samples_per_query: int = Field(
        1_000_000, ge=1, description="Series x points per query (bounds memory)."
    )
    gap_factor: float = Field(
        2.5, ge=1, description="A silence longer than this many steps is a gap."
    )
    gap_lookback: timedelta = Field(
        timedelta(days=1), description="How far back a silence can start and still be found."
    )
    reason_lookback: timedelta = Field(
        timedelta(minutes=10),
        description="Disruption events this long before a node ends explain it.",
    )
    cluster: str | None = Field(
        None, description="Cluster name to record; default the `cluster` label."
    )
    default_cluster: str = Field(
        "default", description="Cluster name when series carry no `cluster` label."
    )
    extra_matchers: str = Field(
        "", description='Label matchers added to every selector, e.g. cluster="prod".'
    )
    clusters: list[str] = Field(
        default_factory=list,
        description="Clusters to collect as separate shards, each with a cluster_label matcher "
        "and its own watermarks; empty: one pass over every series, cluster from the label.",
    )
    cluster_label: str = Field(
        "cluster",
        pattern=r"^[a-zA-Z_][a-zA-Z0-9_]*$",
        description="Label that names the cluster (e.g. a Thanos/Mimir external label).",
    )
    max_concurrency: int = Field(
        2, ge=1, le=64, description="Chunks fetched at once; at most this + 1 chunks in memory."
    )
    query_params: dict[str, str] = Field(
        default_factory=dict,
        description='Extra query_range parameters, e.g. {"partial_response": "false"} (Thanos).',
        repr=False,
        json_schema_extra={"values_hidden": True},
    )
    sigv4: bool = Field(
        False, description="Sign requests with AWS SigV4 (Amazon Managed Prometheus)."
    )
    sigv4_region: str | None = Field(
        None, description="SigV4 region; default AWS_REGION / profile, else from the AMP URL."
    )
    sigv4_service: str = Field("aps", description="SigV4 service name (AMP: aps).")
    accelerator_resources: list[str] = Field(
        default_factory=lambda: list(DEFAULT_RESOURCES),
        min_length=1,
        description="Kubernetes resource names counted as accelerator devices, first present "
        "wins per node (Karpenter and kube-state-metrics spellings are derived from these).",
    )
    dcgm_node_label: str | None = Field(
        None,
        pattern=r"^[a-zA-Z_][a-zA-Z0-9_]*$",
        description="dcgm-exporter label naming the node when neither `Hostname` nor "
        "`hostname` is set (e.g. a relabelled `node`).",
    )

    @model_validator(mode="after")
    def _one_cluster_source(self) -> PrometheusSettings:
        if self.cluster and self.clusters:
            raise UsageError(
                "set either `cluster` (one name for every series) or `clusters` (one shard per "
                "cluster label value), not both"
            )
        if len(set(self.clusters)) != len(self.clusters) or any(not c for c in self.clusters):
            raise UsageError(f"`clusters` must be distinct, non-empty names: {self.clusters}")
        return self

    @field_validator("step", mode="before")
    @classmethod
    def _step(cls, v: Any) -> timedelta | None:
        if v is None or (isinstance(v, str) and v.strip().lower() in ("", "auto")):
            return None
        return parse_duration(v)

    @field_validator(
        "min_step",
        "scrape_interval_window",
        "price_step",
        "lag",
        "initial_lookback",
        "gap_lookback",
        "reason_lookback",
        mode="before",
    )
    @classmethod
    def _duration(cls, v: Any) -> timedelta:
        return parse_duration(v)
