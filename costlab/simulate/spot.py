"""spot: move eligible workloads to spot, priced from recorded spot history, with interruptions."""

from __future__ import annotations

from dataclasses import replace
from typing import Literal

import numpy as np
import polars as pl
from pydantic import Field

from costlab.money import usd_to_micros
from costlab.simulate.base import SimInputs, SimResult, Strategy, StrategySettings, register
from costlab.simulate.fleet import FleetGrid


class SpotSettings(StrategySettings):
    eligible_kinds: list[str] = Field(
        default_factory=lambda: ["inference"], description="Workload kinds moved to spot."
    )
    stateless_kinds: list[str] = Field(
        default_factory=lambda: ["inference"],
        description="Kinds that lose no work when interrupted.",
    )
    checkpointed_kinds: list[str] = Field(
        default_factory=list, description="Stateful kinds that checkpoint."
    )
    checkpoint_interval_minutes: float = Field(
        30.0, gt=0, le=24 * 60, description="Checkpoint interval; half is lost per interruption."
    )
    interruption_source: Literal["observed", "configured"] = Field(
        "observed",
        description="Interruption rate from interrupted spot nodes in the data, or configured.",
    )
    min_observed_node_days: float = Field(
        1.0, ge=0, description="Spot node-days needed before an observed rate is trusted."
    )
    interruptions_per_node_day: dict[str, float] = Field(
        default_factory=dict,
        description="Configured interruptions per spot node-day, per instance family.",
    )
    default_interruptions_per_node_day: float = Field(
        0.05, ge=0, le=100, description="Rate for families not configured."
    )
    reprovision_minutes: float = Field(
        6.0, ge=0, le=240, description="Replacement boot time, paid on-demand."
    )
    fallback_hours: float = Field(
        1.0, ge=0, le=168, description="Time the replacement stays on on-demand."
    )
    default_spot_discount_pct: float | None = Field(
        50.0,
        ge=0,
        lt=100,
        description="Discount off on-demand for groups with no spot price in any zone of their "
        "region (None: such groups stay on-demand). Conservative next to the 58-72 % the recorded "
        "GPU spot history usually shows.",
    )
    target_inference_spot_share_pct: float = Field(
        70.0, ge=0, le=100, description="Goal for inference GPU-hours on spot."
    )


def interruption_rates(
    s: SpotSettings, observed: pl.DataFrame, families: set[str]
) -> dict[str, tuple[float, str]]:
    """Per family: interruptions per node-day and where the figure came from."""
    seen = {r["family"]: r for r in observed.iter_rows(named=True)} if observed.height else {}
    out: dict[str, tuple[float, str]] = {}
    for fam in sorted(families):
        row = seen.get(fam)
        if (
            s.interruption_source == "observed"
            and row
            and row["spot_node_days"] >= s.min_observed_node_days
        ):
            out[fam] = (row["interrupted"] / row["spot_node_days"], "observed")
        elif fam in s.interruptions_per_node_day:
            out[fam] = (s.interruptions_per_node_day[fam], "configured")
        else:
            out[fam] = (s.default_interruptions_per_node_day, "default")
    return out


def move_to_spot(
    grid: FleetGrid, s: SpotSettings, observed: pl.DataFrame
) -> tuple[FleetGrid, dict[str, float], list[dict]]:
    """Split each on-demand group into its eligible share (now spot) and the rest.

    Returns the new grid, figures (interruption cost in USD among them) and per-group details.
    """
    out = grid.copy()
    rates = interruption_rates(s, observed, {g.family for g in grid.groups})
    eligible = sum(
        (grid.kind_demand[k] for k in s.eligible_kinds if k in grid.kind_demand),
        np.zeros_like(grid.demand),
    )
    new_groups, new_rows = [], []
    fig = {
        "expected_interruptions": 0.0,
        "interruption_cost_usd": 0.0,
        "lost_gpu_hours": 0.0,
        "fallback_node_hours": 0.0,
        "spot_node_hours_added": 0.0,
        "fallback_inference_gpu_hours": 0.0,
    }
    details = []
    for gi, g in enumerate(grid.groups):
        if g.capacity_type != "on-demand":
            continue
        od = (
            g.ondemand_price_per_hour if g.ondemand_price_per_hour is not None else g.price_per_hour
        )
        if g.spot_price_per_hour is not None:
            sp, price_source = g.spot_price_per_hour, g.spot_price_source or "zone"
        elif s.default_spot_discount_pct is not None:
            sp = od * (1 - s.default_spot_discount_pct / 100.0)
            price_source = f"default {s.default_spot_discount_pct:g}% discount"
        else:
            details.append(
                {
                    "cluster": g.cluster,
                    "instance_type": g.instance_type,
                    "nodepool": g.nodepool,
                    "moved": False,
                    "reason": "no spot price recorded and no default discount",
                }
            )
            continue
        d, e = grid.demand[gi], eligible[gi]
        overall = float(e.sum() / d.sum()) if d.sum() > 0 else 0.0
        frac = np.where(d > 1e-9, np.divide(e, d, out=np.zeros_like(e), where=d > 1e-9), overall)
        if frac.sum() <= 0:
            continue
        spot_nodes = grid.nodes[gi] * frac
        node_h = float(spot_nodes.sum() * grid.step_h)
        rate, source = rates[g.family]
        n_int = node_h * rate / 24.0
        gpus_busy = float(e.sum() / spot_nodes.sum()) if spot_nodes.sum() > 0 else 0.0
        lost_h = 0.0
        total_e = float(e.sum())
        for k in s.eligible_kinds:
            if k in s.stateless_kinds or k not in grid.kind_demand or total_e <= 0:
                continue
            share = float(grid.kind_demand[k][gi].sum()) / total_e
            per = (
                s.checkpoint_interval_minutes / 120.0
                if k in s.checkpointed_kinds
                else g.mean_pod_hours / 2.0
            )
            lost_h += share * per
        lost_gpu_h = n_int * lost_h * gpus_busy
        per_int = od * s.reprovision_minutes / 60.0 + (od - sp) * s.fallback_hours
        int_cost = n_int * per_int + lost_gpu_h * sp / max(g.gpus_per_node, 1e-9)
        fig["expected_interruptions"] += n_int
        fig["interruption_cost_usd"] += int_cost
        fig["lost_gpu_hours"] += lost_gpu_h
        fig["fallback_node_hours"] += n_int * s.fallback_hours
        inf = grid.kind_demand.get("inference")
        inf_per_node = (
            float(inf[gi].sum() / spot_nodes.sum())
            if inf is not None and "inference" in s.eligible_kinds and spot_nodes.sum() > 0
            else 0.0
        )
        fig["fallback_inference_gpu_hours"] += n_int * s.fallback_hours * inf_per_node
        fig["spot_node_hours_added"] += node_h
        out.nodes[gi] = grid.nodes[gi] - spot_nodes
        out.occupied[gi] = grid.occupied[gi] * (1 - frac)
        out.demand[gi] = d - e
        out.pods[gi] = grid.pods[gi] * (1 - frac)
        new_groups.append(replace(g, capacity_type="spot", price_per_hour=sp))
        new_rows.append((spot_nodes, grid.occupied[gi] * frac, e, grid.pods[gi] * frac, gi, frac))
        details.append(
            {
                "cluster": g.cluster,
                "instance_type": g.instance_type,
                "nodepool": g.nodepool,
                "moved": True,
                "spot_price_source": price_source,
                "spot_node_hours": round(node_h, 4),
                "ondemand_usd_per_hour": round(od, 6),
                "spot_usd_per_hour": round(sp, 6),
                "interruptions_per_node_day": round(rate, 6),
                "interruption_rate_source": source,
                "expected_interruptions": round(n_int, 4),
            }
        )
    if new_rows:
        out.groups = list(grid.groups) + new_groups
        out.nodes = np.vstack([out.nodes] + [r[0][None] for r in new_rows])
        out.occupied = np.vstack([out.occupied] + [r[1][None] for r in new_rows])
        out.demand = np.vstack([out.demand] + [r[2][None] for r in new_rows])
        out.pods = np.vstack([out.pods] + [r[3][None] for r in new_rows])
        for k, arr in grid.kind_demand.items():
            moved = [
                arr[r[4]] * r[5] if k in s.eligible_kinds else np.zeros(grid.n_steps)
                for r in new_rows
            ]
            kept = arr.copy()
            for r in new_rows:
                if k in s.eligible_kinds:
                    kept[r[4]] = arr[r[4]] * (1 - r[5])
            out.kind_demand[k] = np.vstack([kept] + [m[None] for m in moved])
        out.wl_index, out.wl_demand = [], np.zeros((0, grid.n_steps))
    return out, fig, details


def inference_spot_share(
    grid: FleetGrid, fallback_gpu_hours: float, kind: str = "inference"
) -> float:
    """Percent of `kind` GPU-hours on spot nodes (fallback time counted as on-demand)."""
    arr = grid.kind_demand.get(kind)
    if arr is None or arr.sum() <= 0:
        return 0.0
    on_spot = sum(
        float(arr[i].sum()) for i, g in enumerate(grid.groups) if g.capacity_type == "spot"
    )
    total = float(arr.sum())
    return max(0.0, 100.0 * (on_spot - fallback_gpu_hours / grid.step_h) / total)


@register("spot", step=4, risk="high")
class Spot(Strategy[SpotSettings]):
    """Move {eligible_kinds} workloads to spot at the recorded per-zone spot price.

    Interruptions per node-day come from the data ({interruption_source}; interrupted spot nodes per
    spot node-day, trusted after {min_observed_node_days} node-days) or the configured rates
    (default {default_interruptions_per_node_day}). Each interruption pays {reprovision_minutes} min
    of on-demand boot, {fallback_hours} h on on-demand fallback, and, for kinds that are neither
    stateless ({stateless_kinds}) nor checkpointed, half a mean pod runtime of lost GPU work.
    """

    settings_type = SpotSettings

    def run(self, inputs: SimInputs) -> SimResult:
        s = self.settings
        grid = inputs.fleet
        if not grid.groups:
            return self.undefined(inputs, "no nodes recorded")
        out, fig, details = move_to_spot(grid, s, inputs.interruptions)
        grid_saved = (
            float(grid.cost_usd().sum() - out.cost_usd().sum()) - fig["interruption_cost_usd"]
        )
        saved = usd_to_micros(round(grid_saved, 6))
        share = inference_spot_share(out, fig.pop("fallback_inference_gpu_hours"))
        fig["inference_gpu_hours_on_spot_pct"] = share
        fig["inference_gpu_hours_on_spot_pct_baseline"] = inference_spot_share(grid, 0.0)
        fig["inference_spot_target_met"] = float(share >= s.target_inference_spot_share_pct)
        defaulted = sorted(
            f"{d['cluster']}/{d['nodepool']}/{d['instance_type']}"
            for d in details
            if d.get("moved") and str(d["spot_price_source"]).startswith("default")
        )
        other_zones = sorted(
            f"{d['cluster']}/{d['nodepool']}/{d['instance_type']}"
            for d in details
            if d.get("moved") and d["spot_price_source"] == "other-zones"
        )
        kept = sorted(
            f"{d['cluster']}/{d['nodepool']}/{d['instance_type']}"
            for d in details
            if not d.get("moved")
        )
        risk = {
            k: fig.pop(k)
            for k in ("expected_interruptions", "lost_gpu_hours", "fallback_node_hours")
        }
        return SimResult(
            strategy=self.name,
            baseline_cost_usd_micros=inputs.baseline_cost_usd_micros,
            simulated_cost_usd_micros=inputs.baseline_cost_usd_micros - saved,
            window_hours=grid.window_hours,
            risk=risk,
            metrics=fig,
            assumptions=[
                f"eligible kinds {s.eligible_kinds}; nodes split by "
                "the eligible share of their GPU demand",
                f"interruptions: {s.interruption_source} rate, else configured, else "
                f"{s.default_interruptions_per_node_day}/node-day",
                f"each interruption: {s.reprovision_minutes} min on-demand boot + "
                f"{s.fallback_hours} h "
                "on on-demand fallback; lost work only for stateful kinds",
                "spot price: recorded spot history for the node's zone, else region-wide, else the "
                "mean of the same type's other zones in the region, else "
                + (
                    f"on-demand minus a default {s.default_spot_discount_pct:g}% discount"
                    if s.default_spot_discount_pct is not None
                    else "the group stays on-demand"
                ),
                f"spot price from other zones of the region: {', '.join(other_zones) or 'none'}",
                f"spot price from the default discount: {', '.join(defaulted) or 'none'}",
                f"left on on-demand (no spot price): {', '.join(kept) or 'none'}",
                f"inference GPU-hours on spot: {share:.1f}% simulated (fallback hours count as "
                f"on-demand) vs {fig['inference_gpu_hours_on_spot_pct_baseline']:.1f}% recorded; "
                f"goal >= {s.target_inference_spot_share_pct:g}%",
                *inputs.notes,
            ],
            details=details,
            fleet=out,
        )
