"""LangFuse GENERATION observations for the demo's LLM services.

Requests per minute follow each service's load curve (Poisson); each request's input and output
token counts are a real request drawn from the shipped Azure LLM / Mooncake traces.
"""

from __future__ import annotations

import json
from datetime import datetime
from importlib import resources

import numpy as np
import polars as pl

from costlab.demo import profiles as P
from costlab.demo.fleet import Fleet
from costlab.demo.workload import Workload


def request_tokens() -> pl.DataFrame:
    path = resources.files("costlab.data").joinpath("llm_request_tokens.csv.gz")
    with resources.as_file(path) as file:
        return pl.read_csv(file)


def observations(
    fleet: Fleet, w: Workload, start: datetime, rng: np.random.Generator
) -> pl.DataFrame:
    """One row per request, shaped like `llm_observations`."""
    tokens = request_tokens()
    frames = []
    for svc in fleet.services:
        if not svc.token_trace or svc.peak_rpm <= 0:
            continue
        pool = tokens.filter(pl.col("trace") == svc.token_trace)
        counts = rng.poisson(svc.peak_rpm * w.load[svc.name])
        minute = np.repeat(np.arange(counts.size), counts)
        n = minute.size
        pick = rng.integers(0, pool.height, size=n)
        inp = pool["input_tokens"].to_numpy()[pick].astype(np.int64)
        out = pool["output_tokens"].to_numpy()[pick].astype(np.int64)
        offset_ms = rng.integers(0, 60_000, size=n)
        start_us = (int(start.timestamp()) * 1000 + minute * 60_000 + offset_ms) * 1000
        latency_ms = np.round(
            (P.PREFILL_S_PER_1K_INPUT * inp / 1000 + P.DECODE_S_PER_TOKEN * out) * 1000, 1
        )
        team = svc.team or "sandbox"
        user = rng.zipf(1.4, size=n) % P.USERS_PER_TENANT
        session = (np.arange(n) // P.REQUESTS_PER_SESSION) % 997
        price = P.LIST_PRICE_PER_1M.get(svc.model)
        cost = (
            np.round(inp * price[0] + out * price[1]).astype(
                np.int64
            )  # USD per 1M tokens x tokens = micro-USD
            if price
            else np.full(n, None)
        )
        ids = np.arange(n)
        frames.append(
            pl.DataFrame(
                {
                    "observation_id": [f"{svc.name}-{start:%Y%m%d}-{i:08d}" for i in ids],
                    "start_us": start_us,
                    "latency_ms": latency_ms,
                    "input_tokens": inp,
                    "output_tokens": out,
                    "user_n": user,
                    "session_n": session,
                    "langfuse_cost_usd_micros": pl.Series(cost, dtype=pl.Int64),
                }
            )
            .with_columns(
                pl.col("observation_id").str.replace("^", "trace-").alias("trace_id"),
                (pl.lit(f"{team}-user-") + pl.col("user_n").cast(pl.String)).alias("user_id"),
                (
                    pl.lit(f"{svc.name}-s")
                    + pl.col("session_n").cast(pl.String)
                    + pl.lit("-")
                    + pl.col("user_n").cast(pl.String)
                ).alias("session_id"),
                pl.lit(team).alias("tenant"),
                pl.lit(svc.model).alias("model"),
                pl.lit(svc.name).alias("deployment"),
                pl.col("start_us").cast(pl.Datetime("us", "UTC")).alias("start_ts"),
                (pl.col("start_us") + (pl.col("latency_ms") * 1000).cast(pl.Int64))
                .cast(pl.Datetime("us", "UTC"))
                .alias("end_ts"),
                (pl.col("input_tokens") + pl.col("output_tokens")).alias("total_tokens"),
                pl.lit(json.dumps([svc.cluster, team])).alias("tags"),
            )
            .drop("start_us", "user_n", "session_n")
        )
    return pl.concat(frames)
