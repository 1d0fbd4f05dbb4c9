"""Settings of the allocation engine ([allocate] in costlab.toml, env COSTLAB_ALLOCATE_*)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class AllocateSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="COSTLAB_ALLOCATE_", extra="forbid")

    mode: Literal["request", "usage"] = Field(
        "request",
        description="request: pods pay for the GPUs they requested for as long as they held them. "
        "usage: pods pay for max(requested, used) GPU time, used from DCGM (AWS split cost allocation).",
    )
    gpu_cost_share: float = Field(
        1.0,
        ge=0.0,
        le=1.0,
        description="Share of a GPU node's cost that is GPU cost; the rest (CPU/RAM) is reported as "
        "other_cost and split with the same weights. 1.0: a GPU node exists for its GPUs.",
    )
    time_slicing_replicas: int = Field(
        4,
        ge=1,
        le=64,
        description="Replicas per GPU of the NVIDIA device plugin's time-slicing config: one "
        "nvidia.com/gpu.shared unit is 1/replicas of a GPU.",
    )
    usage_metric: Literal["util", "engine_active"] = Field(
        "util",
        description="DCGM metric for 'used': DCGM_FI_DEV_GPU_UTIL or DCGM_FI_PROF_GR_ENGINE_ACTIVE.",
    )
    default_sample_interval_s: int = Field(
        60,
        ge=1,
        le=3600,
        description="Seconds one DCGM sample stands for when its loader did not record it "
        "(gpu_samples.sample_ms is NULL); collectors record their step.",
    )
    idle_share_scope: Literal["cluster", "nodepool"] = Field(
        "cluster",
        description="With --idle share, idle cost is spread over the tenants of the same scope.",
    )
    team_map: Path | None = Field(
        None,
        description="CSV with columns namespace,team[,cluster]: team ownership for namespaces whose "
        "pods and namespace carry no `team` label.",
    )
    max_window_days: int = Field(
        7,
        ge=1,
        le=366,
        description="A longer window is allocated as consecutive windows of at most this many days "
        "(same rows: the allocation is additive over hours). Bounds memory and keeps the "
        "pods-to-segments join per node linear in the window length.",
    )
    input_token_weight: float = Field(
        1.0,
        gt=0,
        description="Weight of an input (prompt) token when GPU cost is spread over tokens.",
    )
    output_token_weight: float = Field(
        4.0,
        gt=0,
        description="Weight of an output token: decoding costs several times more GPU time per token "
        "than prefill; hosted APIs price output 3-5x input.",
    )
