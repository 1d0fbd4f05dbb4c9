"""Pure mapping from LangFuse v2 observations (camelCase dicts) to `llm_observations` rows.

No I/O here: the collector fetches, this module shapes. Units: tokens are counts, latency is
milliseconds, LangFuse's cost is integer micro-dollars (converted from its USD decimal).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import polars as pl

from costlab.money import usd_to_micros
from costlab.timeutil import parse_ts

# Column order and types of the frame handed to sink.load("llm_observations", ...).
SCHEMA: dict[str, Any] = {
    "observation_id": pl.String,
    "trace_id": pl.String,
    "session_id": pl.String,
    "user_id": pl.String,
    "tenant": pl.String,
    "model": pl.String,
    "deployment": pl.String,
    "start_ts": pl.Datetime("us", "UTC"),
    "end_ts": pl.Datetime("us", "UTC"),
    "input_tokens": pl.Int64,
    "output_tokens": pl.Int64,
    "total_tokens": pl.Int64,
    "latency_ms": pl.Float64,
    "langfuse_cost_usd_micros": pl.Int64,
    "tags": pl.String,
}

# OpenAI-style names some SDKs still put in usageDetails.
_INPUT_ALIASES = ("prompt_tokens", "promptTokens")
_OUTPUT_ALIASES = ("completion_tokens", "completionTokens")


def _ts(value: Any) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.astimezone(UTC)
    return parse_ts(str(value))


def _int(value: Any) -> int | None:
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return int(value)


def token_counts(obs: Mapping[str, Any]) -> tuple[int, int, int]:
    """(input, output, total) tokens from `usageDetails`, else the deprecated `usage` object.

    LangFuse's convention: keys `input` / `input_*` are input units (e.g. `input_cached_tokens`),
    `output` / `output_*` output units, `total` the total; a missing total is input + output.
    """
    details = obs.get("usageDetails") or {}
    if details:
        inp = sum(
            _int(v) or 0 for k, v in details.items() if k == "input" or k.startswith("input_")
        )
        inp += sum(_int(details.get(k)) or 0 for k in _INPUT_ALIASES)
        out = sum(
            _int(v) or 0 for k, v in details.items() if k == "output" or k.startswith("output_")
        )
        out += sum(_int(details.get(k)) or 0 for k in _OUTPUT_ALIASES)
        total = _int(details.get("total"))
        return inp, out, total if total is not None else inp + out
    usage = obs.get("usage") or {}
    inp = _int(usage.get("input")) or 0
    out = _int(usage.get("output")) or 0
    total = _int(usage.get("total"))
    return inp, out, total if total else inp + out


def langfuse_cost_micros(obs: Mapping[str, Any]) -> int | None:
    """LangFuse's own cost in micro-dollars: `totalCost`, else `costDetails.total`, else the sum
    of `costDetails`; None when LangFuse reported no cost (unknown model), never 0 by default."""
    for value in (obs.get("totalCost"), (obs.get("costDetails") or {}).get("total")):
        if value is not None and math.isfinite(float(value)):
            return usd_to_micros(repr(float(value)))
    details = obs.get("costDetails") or {}
    if details:
        return sum(usd_to_micros(repr(float(v))) for v in details.values() if v is not None)
    usage = obs.get("usage") or {}
    if usage.get("totalCost") is not None:
        return usd_to_micros(repr(float(usage["totalCost"])))
    return None


def latency_ms(obs: Mapping[str, Any]) -> float | None:
    """`latency` (seconds) as milliseconds, else endTime - startTime."""
    if obs.get("latency") is not None:
        return float(obs["latency"]) * 1000.0
    start, end = _ts(obs.get("startTime")), _ts(obs.get("endTime"))
    if start is None or end is None:
        return None
    return (end - start).total_seconds() * 1000.0


def _text(value: Any) -> str | None:
    if value is None:
        return None
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True)
    return text.strip() or None


def _from_metadata(metadatas: Sequence[Mapping[str, Any] | None], key: str) -> str | None:
    for meta in metadatas:
        if isinstance(meta, Mapping) and key in meta:
            found = _text(meta[key])
            if found:
                return found
    return None


def resolve_tenant(
    rule: Sequence[str],
    *,
    trace_metadata: Mapping[str, Any] | None,
    obs_metadata: Mapping[str, Any] | None,
    tags: Sequence[str],
    user_id: str | None,
    session_id: str | None,
) -> str | None:
    """The first non-empty value the rule's steps yield (see LangfuseSettings.tenant_rule)."""
    for step in rule:
        kind, _, arg = step.partition(":")
        value: str | None = None
        if kind == "metadata":
            value = _from_metadata([trace_metadata, obs_metadata], arg)
        elif kind == "tag":
            value = next(
                (
                    t[len(arg) :].strip()
                    for t in tags
                    if t.startswith(arg) and t[len(arg) :].strip()
                ),
                None,
            )
        elif kind == "user":
            value = _text(user_id)
        elif kind == "session":
            value = _text(session_id)
        elif kind == "const":
            value = arg
        if value:
            return value
    return None


def observation_row(
    obs: Mapping[str, Any],
    trace: Mapping[str, Any] | None,
    *,
    tenant_rule: Sequence[str],
    deployment_keys: Sequence[str],
) -> dict[str, Any]:
    """One `llm_observations` row from a GENERATION and (optionally) its trace's root observation.

    User, session and tags come from the generation (LangFuse denormalises them from the trace)
    and fall back to the trace root's values.
    """
    trace = trace or {}
    trace_meta = trace.get("metadata") if isinstance(trace.get("metadata"), Mapping) else None
    obs_meta = obs.get("metadata") if isinstance(obs.get("metadata"), Mapping) else None
    user_id = obs.get("userId") or trace.get("userId")
    session_id = obs.get("sessionId") or trace.get("sessionId")
    tags = list(obs.get("tags") or trace.get("tags") or [])
    inp, out, total = token_counts(obs)
    deployment = next(
        (d for d in (_from_metadata([obs_meta, trace_meta], k) for k in deployment_keys) if d), None
    )
    return {
        "observation_id": obs.get("id"),
        "trace_id": obs.get("traceId"),
        "session_id": session_id,
        "user_id": user_id,
        "tenant": resolve_tenant(
            tenant_rule,
            trace_metadata=trace_meta,
            obs_metadata=obs_meta,
            tags=tags,
            user_id=user_id,
            session_id=session_id,
        ),
        "model": obs.get("providedModelName") or obs.get("model"),
        "deployment": deployment,
        "start_ts": _ts(obs.get("startTime")),
        "end_ts": _ts(obs.get("endTime")),
        "input_tokens": inp,
        "output_tokens": out,
        "total_tokens": total,
        "latency_ms": latency_ms(obs),
        "langfuse_cost_usd_micros": langfuse_cost_micros(obs),
        "tags": json.dumps(tags) if tags else None,
    }


def observations_frame(rows: Iterable[Mapping[str, Any]]) -> pl.DataFrame:
    """Rows shaped by `observation_row` as a frame with the table's column types."""
    return pl.DataFrame(list(rows), schema=SCHEMA)
