"""LangFuse observations built from a slice of the real Azure LLM inference trace (CC-BY-4.0,
tests/fixtures/azure_llm_2023, see tests/fixtures/NOTICE.md): one trace per request, a root SPAN carrying trace metadata and a
GENERATION with the request's real context/generated token counts and start time.

Tenants are placed four ways so every step of the default tenant rule is exercised:
  i % 4 == 0: root metadata {"tenant": "search"}       -> tenant "search"
  i % 4 == 1: trace tag "tenant:assistant"               -> tenant "assistant"
  i % 4 == 2: user id only ("user-<i % 3>")              -> tenant = user id
  i % 4 == 3: root metadata {"team": "code"}             -> tenant "code"
LangFuse's cost (list price $0.50 / 1M input, $1.50 / 1M output tokens) is present except when
i % 5 == 4 (a model LangFuse has no price for: totalCost null).
"""

from __future__ import annotations

import csv
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

# Every 50th request of AzureLLMInferenceTrace_code.csv, 60 of them, unchanged.
AZURE_CODE = (
    Path(__file__).resolve().parents[1]
    / "fixtures"
    / "azure_llm_2023"
    / "code_every_50th_request.csv"
)
INPUT_USD_PER_TOKEN = Decimal("0.0000005")
OUTPUT_USD_PER_TOKEN = Decimal("0.0000015")


def azure_slice(count: int) -> list[tuple[datetime, int, int]]:
    """(start, context tokens, generated tokens) of the first `count` requests of the slice."""
    out: list[tuple[datetime, int, int]] = []
    with open(AZURE_CODE, newline="") as fh:
        for row in csv.DictReader(fh):
            day, _, frac = row["TIMESTAMP"].partition(".")
            ts = datetime.fromisoformat(f"{day}.{frac[:6]}").replace(tzinfo=UTC)
            out.append((ts, int(row["ContextTokens"]), int(row["GeneratedTokens"])))
            if len(out) == count:
                break
    return out


def iso(ts: datetime) -> str:
    return ts.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def _base(
    obs_id: str, trace_id: str, start: datetime, end: datetime, kind: str, parent: str | None
) -> dict:
    return {
        "id": obs_id,
        "traceId": trace_id,
        "startTime": iso(start),
        "endTime": iso(end),
        "projectId": "proj-costlab",
        "parentObservationId": parent,
        "type": kind,
        "isRootObservation": parent is None,
        "name": "chat" if kind == "GENERATION" else "request",
        "level": "DEFAULT",
        "environment": "production",
        "createdAt": iso(start),
        "updatedAt": iso(end),
        "modelId": None,
        "inputPrice": None,
        "outputPrice": None,
        "totalPrice": None,
    }


def generation(
    i: int, start: datetime, ctx: int, gen: int, *, tokens_scale: int = 1
) -> dict[str, Any]:
    """The GENERATION of request i (ids gen-0000, trace-0000)."""
    ctx, gen = ctx * tokens_scale, gen * tokens_scale
    latency_s = round(0.25 + 0.03 * gen, 3)
    end = start + timedelta(seconds=latency_s)
    obs = _base(f"gen-{i:04d}", f"trace-{i:04d}", start, end, "GENERATION", f"span-{i:04d}")
    user, tags = _trace_identity(i)
    usage: dict[str, int] = {"input": ctx, "output": gen, "total": ctx + gen}
    if i % 7 == 3:  # part of the prompt came from the provider's prompt cache
        cached = ctx // 4
        usage = {
            "input": ctx - cached,
            "input_cached_tokens": cached,
            "output": gen,
            "total": ctx + gen,
        }
    obs |= {
        "userId": user,
        "sessionId": f"sess-{i // 3:04d}",
        "metadata": {"deployment": "vllm-llama-70b"} if i % 2 == 0 else {"region": "eastus"},
        "providedModelName": "llama-3-70b" if i % 5 != 4 else "in-house-ft",
        "usageDetails": usage,
        "latency": latency_s,
        "timeToFirstToken": 0.2,
        "tags": tags,
        "traceName": "request",
        "release": None,
    }
    if i % 5 != 4:
        # LangFuse computes in decimal and serialises a JSON number: the shortest float for it.
        cost_in, cost_out = ctx * INPUT_USD_PER_TOKEN, gen * OUTPUT_USD_PER_TOKEN
        total = float(Decimal(ctx) * INPUT_USD_PER_TOKEN + Decimal(gen) * OUTPUT_USD_PER_TOKEN)
        obs |= {
            "costDetails": {"input": float(cost_in), "output": float(cost_out), "total": total},
            "totalCost": total,
        }
    else:
        obs |= {"costDetails": {}, "totalCost": None}
    return obs


def root(i: int, start: datetime) -> dict[str, Any]:
    """The trace's root SPAN, 50 ms before its generation; holds the trace metadata."""
    span_start = start - timedelta(milliseconds=50)
    obs = _base(
        f"span-{i:04d}", f"trace-{i:04d}", span_start, start + timedelta(seconds=30), "SPAN", None
    )
    user, tags = _trace_identity(i)
    meta = {0: {"tenant": "search"}, 3: {"team": "code"}}.get(i % 4, {"app": "chat"})
    return obs | {
        "userId": user,
        "sessionId": f"sess-{i // 3:04d}",
        "metadata": meta,
        "tags": tags,
        "traceName": "request",
        "release": None,
    }


def _trace_identity(i: int) -> tuple[str | None, list[str]]:
    tags = ["tenant:assistant", "prod"] if i % 4 == 1 else ["prod"]
    user = f"user-{i % 3}" if i % 4 in (1, 2) else None
    return user, tags


def build(count: int = 60) -> tuple[list[dict], list[tuple[datetime, int, int]]]:
    """All observations (roots + generations) for a slice, and the slice itself."""
    rows = azure_slice(count)
    observations: list[dict] = []
    for i, (start, ctx, gen) in enumerate(rows):
        observations += [root(i, start), generation(i, start, ctx, gen)]
    return observations, rows


def expected_tenant(i: int) -> str:
    return {0: "search", 1: "assistant", 2: f"user-{i % 3}", 3: "code"}[i % 4]
