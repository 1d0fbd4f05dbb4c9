"""consolidation: replay Karpenter consolidation (WhenEmpty vs WhenEmptyOrUnderutilized)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np
from pydantic import Field

from costlab.money import usd_to_micros
from costlab.simulate.base import SimInputs, SimResult, Strategy, StrategySettings, register
from costlab.simulate.budgets import (
    Budget,
    allowed_disruptions,
    caused_removals_and_evictions,
    removals_and_evictions,
    replay_scale_down,
)
from costlab.simulate.fleet import FleetGrid


class ConsolidationSettings(StrategySettings):
    policy: Literal["WhenEmpty", "WhenEmptyOrUnderutilized"] = Field(
        "WhenEmptyOrUnderutilized", description="Karpenter consolidationPolicy to replay."
    )
    consolidate_after_minutes: int = Field(
        30,
        ge=0,
        le=24 * 60,
        description="consolidateAfter: how long a node must be consolidatable.",
    )
    budgets: list[Budget] = Field(
        default_factory=lambda: [Budget(nodes="10%")],
        description="Disruption budgets; the most restrictive active one applies (cron in UTC).",
    )
    drain_minutes: float = Field(
        1.0, gt=0, le=120, description="Time one node takes to drain and terminate."
    )


def needed_nodes(grid: FleetGrid, policy: str) -> np.ndarray:
    """Nodes the replayed policy must keep: occupied (WhenEmpty) or packed (Underutilized)."""
    if policy == "WhenEmpty":
        return np.minimum(grid.occupied, grid.nodes)
    gpn = np.array([max(g.gpus_per_node, 1e-9) for g in grid.groups])[:, None]
    packed = np.ceil(grid.demand / gpn - 1e-6)
    return np.minimum(np.maximum(packed, 0.0), grid.nodes)


def replay(
    grid: FleetGrid,
    need: np.ndarray,
    after_min: float,
    budgets: list[Budget],
    drain_min: float,
    tz: str | Sequence[str] = "UTC",
) -> tuple[FleetGrid, dict[str, float]]:
    """The fleet after budget-limited scale-down towards `need`, and its figures."""
    after = int(round(after_min * 60 / grid.step_s))
    allowed = allowed_disruptions(budgets, grid, grid.nodes, tz)
    sim = replay_scale_down(grid.nodes, need, after, allowed, drain_min * 60 / grid.step_s)
    out = grid.copy()
    out.nodes = sim
    out.occupied = np.minimum(grid.occupied, sim)
    base_rm, _ = removals_and_evictions(grid.nodes, grid.occupied, grid.pods)
    sim_rm, _ = removals_and_evictions(sim, grid.occupied, grid.pods)
    caused_rm, evicted = caused_removals_and_evictions(grid.nodes, sim, grid.occupied, grid.pods)
    base_idle = float(np.clip(grid.nodes - grid.occupied, 0, None).sum() * grid.step_h)
    sim_idle = float(np.clip(sim - out.occupied, 0, None).sum() * grid.step_h)
    figures = {
        "node_hours_baseline": float(grid.node_hours().sum()),
        "node_hours_simulated": float(out.node_hours().sum()),
        "node_hours_removed": float(grid.node_hours().sum() - out.node_hours().sum()),
        "idle_node_hours_baseline": base_idle,
        "idle_node_hours_simulated": sim_idle,
        "nodes_removed": caused_rm,
        "pods_evicted": evicted,
        "mean_hours_idle_before_removal_baseline": base_idle / base_rm if base_rm else 0.0,
        "mean_hours_idle_before_removal_simulated": sim_idle / sim_rm if sim_rm else 0.0,
    }
    return out, figures


def cost_delta_micros(before: FleetGrid, after: FleetGrid) -> int:
    """Grid cost saved by `after` (USD micros): grid error cancels against the baseline."""
    return usd_to_micros(round(float(before.cost_usd().sum() - after.cost_usd().sum()), 6))


@register("consolidation", step=2, risk="medium")
class Consolidation(Strategy[ConsolidationSettings]):
    """Replay consolidation with policy {policy}, consolidateAfter {consolidate_after_minutes} min.

    Nodes the recorded pods leave empty (WhenEmpty), or that bin-packing the recorded GPU requests
    makes unnecessary (WhenEmptyOrUnderutilized), are removed once that lasted consolidateAfter,
    no faster than the disruption budgets {budgets} allow (drain {drain_minutes} min per node).
    """

    settings_type = ConsolidationSettings

    def run(self, inputs: SimInputs) -> SimResult:
        s = self.settings
        grid = inputs.fleet
        if not grid.groups:
            return self.undefined(inputs, "no nodes recorded")
        out, fig = replay(
            grid,
            needed_nodes(grid, s.policy),
            s.consolidate_after_minutes,
            list(s.budgets),
            s.drain_minutes,
        )
        saved = cost_delta_micros(grid, out)
        other = "WhenEmpty" if s.policy != "WhenEmpty" else "WhenEmptyOrUnderutilized"
        alt, alt_fig = replay(
            grid,
            needed_nodes(grid, other),
            s.consolidate_after_minutes,
            list(s.budgets),
            s.drain_minutes,
        )
        fig[f"node_hours_removed_{other}"] = alt_fig["node_hours_removed"]
        fig[f"savings_usd_{other}"] = cost_delta_micros(grid, alt) / 1e6
        return SimResult(
            strategy=self.name,
            baseline_cost_usd_micros=inputs.baseline_cost_usd_micros,
            simulated_cost_usd_micros=inputs.baseline_cost_usd_micros - saved,
            window_hours=grid.window_hours,
            risk={
                "pods_evicted": fig.pop("pods_evicted"),
                "nodes_removed": fig.pop("nodes_removed"),
            },
            metrics=fig,
            assumptions=[
                f"policy {s.policy}, consolidateAfter {s.consolidate_after_minutes}m, "
                f"budgets {[b.model_dump(exclude_none=True) for b in s.budgets]} (cron in UTC)",
                "WhenEmptyOrUnderutilized packs GPU requests perfectly per node group "
                "(ceil(GPUs / GPUs per node)); fragmentation and CPU/memory fit are ignored",
                "removed nodes come back instantly when demand returns (boot time not charged)",
                "a group's price is its recorded average $/node-hour",
                *inputs.notes,
            ],
            details=[
                {
                    "nodepool": g.nodepool,
                    "instance_type": g.instance_type,
                    "capacity_type": g.capacity_type,
                    "node_hours_baseline": round(float(a), 4),
                    "node_hours_simulated": round(float(b), 4),
                }
                for g, a, b in zip(grid.groups, grid.node_hours(), out.node_hours(), strict=True)
            ],
            fleet=out,
        )
