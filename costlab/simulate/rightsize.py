"""rightsize: per workload, the cheapest instance type that fits its GPU memory and GPU count."""

from __future__ import annotations

import math

import numpy as np
import polars as pl
from pydantic import Field

from costlab.money import usd_to_micros
from costlab.simulate.base import SimInputs, SimResult, Strategy, StrategySettings, register
from costlab.simulate.fleet import FleetGrid, Group

# Public spec-sheet memory bandwidth per GPU (GB/s). LLM decode is bandwidth bound, so a GPU
# below the threshold is not offered even when its memory fits.
GPU_MEMORY_BANDWIDTH_GBPS: dict[str, float] = {
    "t4": 320,
    "t4g": 320,
    "l4": 300,
    "a10g": 600,
    "l40s": 864,
    "v100": 900,
    "a100": 1555,
    "h100": 3350,
    "h200": 4800,
    "b200": 8000,
    "b300": 8000,
}


class RightsizeSettings(StrategySettings):
    memory_percentile: float = Field(
        95.0, ge=50, le=100, description="Percentile of GPU memory used per GPU."
    )
    headroom_pct: float = Field(
        20.0, ge=0, le=200, description="Headroom added on top of the percentile."
    )
    min_gpu_memory_bandwidth_gbps: float = Field(
        600.0,
        ge=0,
        description="Only GPUs with at least this memory bandwidth (T4/L4 ~300 GB/s excluded).",
    )
    families: list[str] = Field(
        default_factory=list, description="Allowed instance families; empty = all NVIDIA."
    )
    min_saving_pct: float = Field(
        5.0, ge=0, le=100, description="Only move a workload saving at least this."
    )


def candidates(catalog: pl.DataFrame, s: RightsizeSettings) -> pl.DataFrame:
    """NVIDIA instance types with a price and enough memory bandwidth, cheapest first."""
    bw = (
        pl.col("gpu_model")
        .str.to_lowercase()
        .replace_strict(GPU_MEMORY_BANDWIDTH_GBPS, default=0.0, return_dtype=pl.Float64)
    )
    out = catalog.filter(
        (pl.col("gpu_count") > 0)
        & (pl.col("gpu_manufacturer").str.to_lowercase() == "nvidia")
        & pl.col("ondemand_usd_per_hour").is_not_null()
        & (bw >= s.min_gpu_memory_bandwidth_gbps)
    )
    if s.families:
        out = out.filter(pl.col("family").is_in(s.families))
    return out.with_columns(
        (pl.col("ondemand_usd_per_hour") / pl.col("gpu_count")).alias("usd_per_gpu_h")
    ).sort(["usd_per_gpu_h", "instance_type"])


def pick(cands: pl.DataFrame, gpus_per_pod: float, need_mib: float) -> dict | None:
    """The cheapest candidate (per pod-hour) with >= the GPUs a pod asks for and enough memory."""
    fit = cands.filter(
        (pl.col("gpu_count") >= math.ceil(gpus_per_pod - 1e-9))
        & (pl.col("gpu_memory_mib") >= need_mib)
    )
    if fit.height == 0:
        return None
    return fit.row(0, named=True)


def cheapest_fits(workloads: pl.DataFrame, cands: pl.DataFrame, headroom_pct: float) -> dict:
    """Per workload with memory samples, `pick` for all at once (one join, no loop)."""
    need = workloads.filter(pl.col("fb_used_q_mib").is_not_null()).select(
        "workload",
        pl.col("gpus_per_pod").sub(1e-9).ceil().alias("min_gpus"),
        (pl.col("fb_used_q_mib").cast(pl.Float64) * (1 + headroom_pct / 100.0)).alias("need"),
    )
    if need.height == 0 or cands.height == 0:
        return {}
    fit = (
        need.join(cands, how="cross")
        .filter(
            (pl.col("gpu_count") >= pl.col("min_gpus"))
            & (pl.col("gpu_memory_mib") >= pl.col("need"))
        )
        .sort(["workload", "usd_per_gpu_h", "instance_type"])
        .group_by("workload", maintain_order=True)
        .first()
        .drop("min_gpus", "need")
    )
    return {r["workload"]: r for r in fit.iter_rows(named=True)}


@register("rightsize", step=1, risk="low")
class Rightsize(Strategy[RightsizeSettings]):
    """Per workload: the cheapest GPU instance type whose GPU memory fits the p{memory_percentile}
    of observed framebuffer use plus {headroom_pct}% headroom, with at least the GPUs a pod asks
    for and >= {min_gpu_memory_bandwidth_gbps} GB/s memory bandwidth (e.g. a 7B model on g5.xlarge
    instead of p4d). Cost is request-based: a pod pays GPUs x $/GPU-hour of its instance type.
    """

    settings_type = RightsizeSettings

    def plan(self, inputs: SimInputs) -> pl.DataFrame:
        """One row per workload with its pick (or why none), costs in USD over the window."""
        s = self.settings
        cands = candidates(inputs.catalog, s)
        best_of = cheapest_fits(inputs.workloads, cands, s.headroom_pct)
        rows = []
        for w in inputs.workloads.iter_rows(named=True):
            row = {
                "workload": w["workload"],
                "kind": w["kind"],
                "current_type": w["current_type"],
                "gpus_per_pod": w["gpus_per_pod"],
                "gpu_hours": round(w["gpu_hours"], 6),
                "baseline_usd": round(w["baseline_cost_usd"], 6),
                "fb_used_mib": w.get("fb_used_q_mib"),
                "need_mib": None,
                "recommended_type": None,
                "simulated_usd": round(w["baseline_cost_usd"], 6),
                "reason": "",
            }
            if w.get("fb_used_q_mib") is None:
                row["reason"] = "no GPU memory samples"
                rows.append(row)
                continue
            need = float(w["fb_used_q_mib"]) * (1 + s.headroom_pct / 100.0)
            row["need_mib"] = round(need, 1)
            best = best_of.get(w["workload"])
            if best is None:
                row["reason"] = "no candidate fits"
            else:
                new_usd = w["gpu_hours"] * best["usd_per_gpu_h"]
                if (
                    new_usd < w["baseline_cost_usd"] * (1 - s.min_saving_pct / 100.0)
                    and best["instance_type"] != w["current_type"]
                ):
                    row.update(
                        recommended_type=best["instance_type"], simulated_usd=round(new_usd, 6)
                    )
                else:
                    row["reason"] = "already the cheapest fit"
            rows.append(row)
        return pl.DataFrame(rows, infer_schema_length=None) if rows else pl.DataFrame()

    def run(self, inputs: SimInputs) -> SimResult:
        s = self.settings
        grid = inputs.fleet
        if inputs.workloads.height == 0:
            return SimResult(
                self.name,
                inputs.baseline_cost_usd_micros,
                inputs.baseline_cost_usd_micros,
                grid.window_hours,
                undefined="no GPU pods recorded",
            )
        plan = self.plan(inputs)
        out = apply_plan(grid, plan, inputs.catalog)
        saved_usd = float((plan["baseline_usd"] - plan["simulated_usd"]).sum())
        saved = usd_to_micros(round(saved_usd, 6))
        moved = plan.filter(pl.col("recommended_type").is_not_null())
        return SimResult(
            strategy=self.name,
            baseline_cost_usd_micros=inputs.baseline_cost_usd_micros,
            simulated_cost_usd_micros=inputs.baseline_cost_usd_micros - saved,
            window_hours=grid.window_hours,
            risk={
                "workloads_moved": float(moved.height),
                "min_memory_headroom_pct": float(s.headroom_pct),
                "workloads_without_samples": float(
                    plan.filter(pl.col("reason") == "no GPU memory samples").height
                ),
            },
            metrics={"gpu_hours_moved": float(moved["gpu_hours"].sum()) if moved.height else 0.0},
            assumptions=[
                f"memory need = p{s.memory_percentile:g} of fb_used per GPU "
                "(max over a workload's pods) "
                f"+ {s.headroom_pct:g}% headroom",
                f"candidates: NVIDIA GPUs with >= {s.min_gpu_memory_bandwidth_gbps:g} GB/s "
                "memory bandwidth, "
                "priced on-demand (recorded price, else the shipped us-east-1 list)",
                "request-based cost: idle capacity on the old nodes is left to consolidation",
                *inputs.notes,
            ],
            details=plan.to_dicts(),
            fleet=out,
        )


def apply_plan(grid: FleetGrid, plan: pl.DataFrame, catalog: pl.DataFrame) -> FleetGrid:
    """Move each resized workload's GPU demand to a group of its new type (perfect packing)."""
    out = grid.copy()
    if plan.height == 0 or grid.wl_demand.shape[0] == 0:
        return out
    target = {
        r["workload"]: r["recommended_type"]
        for r in plan.iter_rows(named=True)
        if r["recommended_type"]
    }
    kinds = {r["workload"]: r["kind"] for r in plan.iter_rows(named=True)}
    specs = {r["instance_type"]: r for r in catalog.iter_rows(named=True)}
    spot_of = {
        (g.cluster, g.instance_type): (g.spot_price_per_hour, g.spot_price_source)
        for g in grid.groups
        if g.spot_price_per_hour is not None
    }
    new_index: dict[tuple[str, str, str], int] = {}
    extra_groups: list[Group] = []
    rows: list[dict[str, np.ndarray]] = []
    for i, (wl, gi) in enumerate(grid.wl_index):
        new_type = target.get(wl)
        if not new_type:
            continue
        old = grid.groups[gi]
        d = grid.wl_demand[i]
        share = np.divide(d, grid.demand[gi], out=np.zeros_like(d), where=grid.demand[gi] > 1e-9)
        # the old group gives back the moved GPUs' share of a node (request-based)
        out.nodes[gi] = np.clip(out.nodes[gi] - d / max(old.gpus_per_node, 1e-9), 0.0, None)
        out.occupied[gi] = np.minimum(out.occupied[gi], out.nodes[gi])
        out.demand[gi] = np.clip(out.demand[gi] - d, 0.0, None)
        moved_pods = grid.pods[gi] * share
        out.pods[gi] = np.clip(out.pods[gi] - moved_pods, 0.0, None)
        key = (old.cluster, old.nodepool, new_type)
        if key not in new_index:
            spec = specs[new_type]
            price = float(spec["ondemand_usd_per_hour"])
            # the recorded spot price of the new type in the same cluster, when the fleet has one
            known = spot_of.get((old.cluster, new_type))
            extra_groups.append(
                Group(
                    old.nodepool,
                    new_type,
                    "on-demand",
                    spec["family"],
                    float(spec["gpu_count"]),
                    spec["gpu_model"],
                    price,
                    price,
                    known[0] if known else None,
                    old.mean_pod_hours,
                    cluster=old.cluster,
                    region=old.region,
                    spot_price_source=known[1] if known else "",
                )
            )
            new_index[key] = len(extra_groups) - 1
            rows.append(
                {
                    "nodes": np.zeros(grid.n_steps),
                    "demand": np.zeros(grid.n_steps),
                    "pods": np.zeros(grid.n_steps),
                    **{f"k:{k}": np.zeros(grid.n_steps) for k in grid.kind_demand},
                }
            )
        j = new_index[key]
        gpn = extra_groups[j].gpus_per_node
        rows[j]["nodes"] += d / gpn
        rows[j]["demand"] += d
        rows[j]["pods"] += moved_pods
        kind = kinds.get(wl, "")
        if kind in grid.kind_demand:
            rows[j][f"k:{kind}"] += d
            out.kind_demand[kind][gi] = np.clip(out.kind_demand[kind][gi] - d, 0.0, None)
    if extra_groups:
        out.groups = list(grid.groups) + extra_groups
        out.nodes = np.vstack([out.nodes] + [r["nodes"][None] for r in rows])
        out.occupied = np.vstack([out.occupied] + [r["nodes"][None] for r in rows])
        out.demand = np.vstack([out.demand] + [r["demand"][None] for r in rows])
        out.pods = np.vstack([out.pods] + [r["pods"][None] for r in rows])
        for k in grid.kind_demand:
            out.kind_demand[k] = np.vstack([out.kind_demand[k]] + [r[f"k:{k}"][None] for r in rows])
        out.wl_index, out.wl_demand = [], np.zeros((0, grid.n_steps))
    return out
