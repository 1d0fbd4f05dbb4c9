"""GPU dollars to tokens: $ per 1M input/output tokens per model, then per trace/session/user/tenant.

A model's GPU cost in a window (its pods' allocation rows) is spread over the tokens LangFuse
recorded for it, input and output tokens weighted (settings: input_token_weight,
output_token_weight), so $/1M input = cost x w_in / weighted tokens x 1e6 and likewise for output.
Read-only on the database.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import duckdb

from costlab.allocate.settings import AllocateSettings
from costlab.errors import UsageError
from costlab.store import compose_sql, load_sql
from costlab.timeutil import Window

LEVELS = ("trace", "session", "user", "tenant")
DEPLOYMENT_LABEL = "app_kubernetes_io_name"
RATES_CTE = "alloc_token_rates"


@dataclass(frozen=True)
class TokenReport:
    """Either per-model rates (by = model) or per-key costs (by = trace/session/user/tenant)."""

    window: Window
    by: str
    rates: list[TokenRate] = field(default_factory=list)
    costs: list[tuple] = field(default_factory=list)


@dataclass(frozen=True)
class TokenRate:
    serving_key: str
    gpu_cost_usd_micros: int
    input_tokens: int
    output_tokens: int
    requests: int
    usd_per_1m_input: float | None
    usd_per_1m_output: float | None
    usd_per_1m_tokens: float | None
    list_usd_per_1m_tokens: float | None


def rate_params(
    cfg: AllocateSettings, match: str, deployment_label: str = DEPLOYMENT_LABEL
) -> dict:
    """Parameters of token_rates.sql other than the window and the scope."""
    if match not in ("model", "deployment"):
        raise UsageError("token match rule must be 'model' or 'deployment'")
    return {
        "match": match,
        "deployment_label": deployment_label,
        "w_in": cfg.input_token_weight,
        "w_out": cfg.output_token_weight,
    }


def _params(window: Window, cfg: AllocateSettings, match: str, deployment_label: str) -> dict:
    aligned = window.hour_aligned()
    return {
        "start": aligned.start,
        "end": aligned.end,
        **rate_params(cfg, match, deployment_label),
        "tenant": None,
        "clusters": [],
        "teams": [],
    }


def with_token_rates(sql_name: str) -> str:
    """`sql/<sql_name>.sql` with token_rates.sql in front of it as `alloc_token_rates`, so every
    per-unit token cost (CLI and dashboard) is priced by the one rate definition."""
    return compose_sql(sql_name, [(RATES_CTE, "allocate/token_rates")])


def token_rates(
    conn: duckdb.DuckDBPyConnection,
    window: Window,
    settings: AllocateSettings | None = None,
    match: str = "model",  # "model" or "deployment"; rate_params refuses anything else
    deployment_label: str = DEPLOYMENT_LABEL,
) -> list[TokenRate]:
    """One row per model (or deployment) that has GPU cost in the window."""
    params = _params(window, settings or AllocateSettings(), match, deployment_label)
    rows = conn.execute(load_sql("allocate/token_rates"), params).fetchall()
    return [TokenRate(*r[:9]) for r in rows]


def token_cost_by(
    conn: duckdb.DuckDBPyConnection,
    window: Window,
    level: str,
    settings: AllocateSettings | None = None,
    match: str = "model",  # "model" or "deployment"; rate_params refuses anything else
    deployment_label: str = DEPLOYMENT_LABEL,
    limit: int = 1000,
) -> list[tuple]:
    """(key, requests, input_tokens, output_tokens, gpu_cost_usd, list_cost_usd) per trace,
    session, user or tenant, most expensive first."""
    if level not in LEVELS:
        raise UsageError(f"level must be one of {', '.join(LEVELS)}")
    params = _params(window, settings or AllocateSettings(), match, deployment_label)
    query = with_token_rates("allocate/token_cost_by")
    return conn.execute(query, {**params, "level": level, "limit": limit}).fetchall()
