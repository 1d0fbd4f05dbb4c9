"""schedule: off-hours and weekend scale-down with time-of-week disruption budgets."""

from __future__ import annotations

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
from pydantic import Field, field_validator

from costlab.simulate.base import SimInputs, SimResult, Strategy, StrategySettings, register
from costlab.simulate.budgets import Budget, active_mask
from costlab.simulate.consolidation import cost_delta_micros, needed_nodes, replay
from costlab.simulate.fleet import FleetGrid


class ScheduleSettings(StrategySettings):
    timezone: str = Field("UTC", description="IANA timezone the business hours are in.")
    business_schedule: str = Field(
        "0 8 * * 1-5", description="Cron (local time) when business hours start."
    )
    business_duration: str = Field("10h", description="Length of business hours.")
    business_budget: str = Field("10%", description="Disruption budget during business hours.")
    evening_schedule: str = Field(
        "0 18 * * 1-5", description="Cron (local) when weekday evenings start."
    )
    evening_duration: str = Field("14h", description="Length of the evening/night window.")
    evening_budget: str = Field("50%", description="Disruption budget on evenings and nights.")
    weekend_schedule: str = Field("0 0 * * 6", description="Cron (local) when the weekend starts.")
    weekend_duration: str = Field(
        "56h", description="Length of the weekend window (Sat 00:00 to Mon 08:00)."
    )
    weekend_budget: str = Field("80%", description="Disruption budget on weekends.")
    consolidate_after_minutes: int = Field(
        15, ge=0, le=24 * 60, description="consolidateAfter off-hours."
    )
    business_consolidate_after_minutes: int = Field(
        60, ge=0, le=24 * 60, description="consolidateAfter in business hours."
    )
    offhours_demand_ratio: dict[str, float] = Field(
        default_factory=dict,
        description="Per workload kind, the share of its GPU demand kept off-hours (e.g. dev: 0).",
    )
    drain_minutes: float = Field(1.0, gt=0, le=120, description="Time one node takes to drain.")
    target_offhours_reduction_pct: float = Field(
        50.0, ge=0, le=100, description="Goal for the report."
    )

    @field_validator("timezone")
    @classmethod
    def _tz(cls, v: str) -> str:
        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown timezone {v!r}") from None
        return v

    def budgets(self) -> list[Budget]:
        return [
            Budget(
                nodes=self.business_budget,
                schedule=self.business_schedule,
                duration=self.business_duration,
            ),
            Budget(
                nodes=self.evening_budget,
                schedule=self.evening_schedule,
                duration=self.evening_duration,
            ),
            Budget(
                nodes=self.weekend_budget,
                schedule=self.weekend_schedule,
                duration=self.weekend_duration,
            ),
        ]


def business_mask(s: ScheduleSettings, grid: FleetGrid) -> np.ndarray:
    return active_mask(s.business_schedule, s.business_duration, grid, s.timezone)


@register("schedule")
class Schedule(Strategy[ScheduleSettings]):
    """Scale down off-hours: budgets {business_budget} business hours, {evening_budget} evenings,
    {weekend_budget} weekends ({timezone}); consolidateAfter {consolidate_after_minutes} min
    off-hours, {business_consolidate_after_minutes} min in business hours.

    Off-hours, each workload kind keeps the share of its demand given in {offhours_demand_ratio}
    (kinds not listed keep all of it); capacity follows the packed demand as fast as the budget of
    the current window allows. Reports the off-hours node-hour reduction
    (goal >= {target_offhours_reduction_pct}%).
    """

    settings_type = ScheduleSettings

    def run(self, inputs: SimInputs) -> SimResult:
        s = self.settings
        grid = inputs.fleet
        if not grid.groups:
            return SimResult(
                self.name,
                inputs.baseline_cost_usd_micros,
                inputs.baseline_cost_usd_micros,
                grid.window_hours,
                undefined="no nodes recorded",
            )
        business = business_mask(s, grid)
        off = ~business
        scaled = grid.copy()
        for kind, ratio in s.offhours_demand_ratio.items():
            if kind in scaled.kind_demand:
                cut = scaled.kind_demand[kind] * (1.0 - ratio) * off[None, :]
                scaled.demand = np.clip(scaled.demand - cut, 0.0, None)
                scaled.kind_demand[kind] = scaled.kind_demand[kind] - cut
        need = needed_nodes(scaled, "WhenEmptyOrUnderutilized")
        # business hours keep the slower consolidateAfter: hold the need at its rolling max there
        fast, _ = replay(
            scaled, need, s.consolidate_after_minutes, [Budget(nodes="100%")], s.drain_minutes
        )
        slow_grid, _ = replay(
            scaled,
            need,
            s.business_consolidate_after_minutes,
            [Budget(nodes="100%")],
            s.drain_minutes,
        )
        need_tw = np.where(business[None, :], slow_grid.nodes, fast.nodes)
        out, fig = replay(scaled, need_tw, 0, s.budgets(), s.drain_minutes, s.timezone)
        out.demand, out.kind_demand = scaled.demand, scaled.kind_demand
        base_off = float(grid.nodes[:, off].sum() * grid.step_h)
        sim_off = float(out.nodes[:, off].sum() * grid.step_h)
        reduction = 100.0 * (1 - sim_off / base_off) if base_off > 0 else 0.0
        saved = cost_delta_micros(grid, out)
        fig.update(
            {
                "offhours_node_hours_baseline": base_off,
                "offhours_node_hours_simulated": sim_off,
                "offhours_reduction_pct": reduction,
                "offhours_target_met": float(reduction >= s.target_offhours_reduction_pct),
            }
        )
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
                f"business hours {s.business_schedule} for {s.business_duration} in {s.timezone}; "
                f"budgets {s.business_budget} / {s.evening_budget} / {s.weekend_budget}",
                f"off-hours demand kept per kind: {s.offhours_demand_ratio or 'all'}",
                "capacity packs GPU requests per node group (WhenEmptyOrUnderutilized)",
                *inputs.notes,
            ],
            fleet=out,
        )
