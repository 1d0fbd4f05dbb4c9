"""schedule: off-hours and weekend scale-down with time-of-week disruption budgets."""

from __future__ import annotations

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
from pydantic import Field, field_validator

from costlab.simulate.base import SimInputs, SimResult, Strategy, StrategySettings, register
from costlab.simulate.budgets import Budget, group_mask
from costlab.simulate.consolidation import cost_delta_micros, needed_nodes, replay
from costlab.simulate.fleet import FleetGrid

# Where a cluster's business hours are when no timezone is configured: the main timezone of the
# AWS region it runs in (a team usually runs a region near its users).
REGION_TIMEZONES: dict[str, str] = {
    "us-east-1": "America/New_York",
    "us-east-2": "America/New_York",
    "us-west-1": "America/Los_Angeles",
    "us-west-2": "America/Los_Angeles",
    "ca-central-1": "America/Toronto",
    "sa-east-1": "America/Sao_Paulo",
    "eu-west-1": "Europe/Dublin",
    "eu-west-2": "Europe/London",
    "eu-west-3": "Europe/Paris",
    "eu-central-1": "Europe/Berlin",
    "eu-north-1": "Europe/Stockholm",
    "ap-south-1": "Asia/Kolkata",
    "ap-southeast-1": "Asia/Singapore",
    "ap-southeast-2": "Australia/Sydney",
    "ap-northeast-1": "Asia/Tokyo",
    "ap-northeast-2": "Asia/Seoul",
}


def _check_tz(v: str) -> str:
    try:
        ZoneInfo(v)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown timezone {v!r}") from None
    return v


class ScheduleSettings(StrategySettings):
    timezone: str = Field(
        "auto",
        description="IANA timezone of the business hours, or 'auto': per cluster, "
        "cluster_timezones, else the region's timezone (REGION_TIMEZONES), else UTC.",
    )
    cluster_timezones: dict[str, str] = Field(
        default_factory=dict, description="Per cluster, the IANA timezone of its business hours."
    )
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
        default_factory=lambda: {"batch": 0.0, "dev": 0.0, "notebook": 0.0},
        description="Per workload kind, the share of its GPU demand kept off-hours (0 = stopped "
        "off-hours; kinds not listed keep all of it).",
    )
    drain_minutes: float = Field(1.0, gt=0, le=120, description="Time one node takes to drain.")
    target_offhours_reduction_pct: float = Field(
        50.0, ge=0, le=100, description="Goal for the report."
    )

    @field_validator("timezone")
    @classmethod
    def _tz(cls, v: str) -> str:
        return v if v == "auto" else _check_tz(v)

    @field_validator("cluster_timezones")
    @classmethod
    def _cluster_tz(cls, v: dict[str, str]) -> dict[str, str]:
        for tz in v.values():
            _check_tz(tz)
        return v

    @field_validator("offhours_demand_ratio")
    @classmethod
    def _ratios(cls, v: dict[str, float]) -> dict[str, float]:
        for kind, ratio in v.items():
            if not 0.0 <= ratio <= 1.0:
                raise ValueError(f"offhours_demand_ratio[{kind!r}] = {ratio} is not within 0-1")
        return v

    def group_timezones(self, grid: FleetGrid) -> list[str]:
        """The timezone each node group's business hours are in."""
        if self.timezone != "auto":
            return [self.timezone] * len(grid.groups)
        return [
            self.cluster_timezones.get(g.cluster) or REGION_TIMEZONES.get(g.region, "UTC")
            for g in grid.groups
        ]

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
    """(groups, steps): is the step inside business hours in the group's timezone?"""
    return group_mask(s.business_schedule, s.business_duration, grid, s.group_timezones(grid))


def cut_offhours_demand(grid: FleetGrid, s: ScheduleSettings, off: np.ndarray) -> FleetGrid:
    """The fleet with each listed kind's GPU demand scaled off-hours.

    Its pods, and the occupied nodes, shrink by the stopped share of the group's demand: stopped
    pods are shut down on schedule, so removing their nodes evicts nobody.
    """
    scaled = grid.copy()
    for kind, ratio in sorted(s.offhours_demand_ratio.items()):
        if kind not in scaled.kind_demand:
            continue
        cut = scaled.kind_demand[kind] * (1.0 - ratio) * off
        share = np.divide(cut, grid.demand, out=np.zeros_like(cut), where=grid.demand > 1e-9)
        scaled.pods = np.clip(scaled.pods - grid.pods * share, 0.0, None)
        # stopped pods free their nodes: occupied nodes shrink by the same share
        scaled.occupied = np.clip(scaled.occupied - grid.occupied * share, 0.0, None)
        scaled.demand = np.clip(scaled.demand - cut, 0.0, None)
        scaled.kind_demand[kind] = scaled.kind_demand[kind] - cut
    return scaled


def offhours_replay(
    grid: FleetGrid, s: ScheduleSettings, business: np.ndarray
) -> tuple[FleetGrid, dict[str, float]]:
    """Budget-limited scale-down to the packed (cut) demand; slower consolidateAfter by day."""
    tzs = s.group_timezones(grid)
    scaled = cut_offhours_demand(grid, s, ~business)
    need = needed_nodes(scaled, "WhenEmptyOrUnderutilized")
    free = [Budget(nodes="100%")]
    fast, _ = replay(scaled, need, s.consolidate_after_minutes, free, s.drain_minutes)
    slow, _ = replay(scaled, need, s.business_consolidate_after_minutes, free, s.drain_minutes)
    need_tw = np.where(business, slow.nodes, fast.nodes)
    out, fig = replay(scaled, need_tw, 0, s.budgets(), s.drain_minutes, tzs)
    return out, fig


def _offhours(grid: FleetGrid, off: np.ndarray) -> tuple[float, float, float]:
    """Off-hours node-hours, GPU-hours of capacity and USD of a fleet."""
    gpn = np.array([g.gpus_per_node for g in grid.groups])
    price = np.array([g.price_per_hour for g in grid.groups])
    node_h = (grid.nodes * off).sum(axis=1) * grid.step_h
    return float(node_h.sum()), float((node_h * gpn).sum()), float((node_h * price).sum())


def _pct(before: float, after: float) -> float:
    return 100.0 * (1 - after / before) if before > 0 else 0.0


@register("schedule", step=3, risk="medium")
class Schedule(Strategy[ScheduleSettings]):
    """Scale down off-hours: budgets {business_budget} business hours, {evening_budget} evenings,
    {weekend_budget} weekends (timezone {timezone}); consolidateAfter {consolidate_after_minutes}
    min off-hours, {business_consolidate_after_minutes} min in business hours.

    Business hours start at '{business_schedule}' for {business_duration} (local time of each
    cluster); everything else is off-hours. Off-hours, each workload kind keeps the share of its
    GPU demand given in {offhours_demand_ratio} (0 = stopped; kinds not listed keep all of it);
    capacity follows the packed demand as fast as the budget of the current window allows.
    Reports the off-hours reduction of node-hours, GPU-hours and dollars against the recording
    (goal >= {target_offhours_reduction_pct}% of node-hours).
    """

    settings_type = ScheduleSettings

    def run(self, inputs: SimInputs) -> SimResult:
        s = self.settings
        grid = inputs.fleet
        if not grid.groups:
            return self.undefined(inputs, "no nodes recorded")
        business = business_mask(s, grid)
        off = ~business
        out, fig = offhours_replay(grid, s, business)
        # the same replay with no demand cut: how much comes from removing idle capacity alone
        idle_only, _ = offhours_replay(
            grid, s.model_copy(update={"offhours_demand_ratio": {}}), business
        )
        base_nh, base_gh, base_usd = _offhours(grid, off)
        sim_nh, sim_gh, sim_usd = _offhours(out, off)
        idle_nh = _offhours(idle_only, off)[0]
        reduction = _pct(base_nh, sim_nh)
        saved = cost_delta_micros(grid, out)
        fig.update(
            {
                "offhours_share_of_window_pct": 100.0 * float(off.mean()),
                "offhours_node_hours_baseline": base_nh,
                "offhours_node_hours_simulated": sim_nh,
                "offhours_reduction_pct": reduction,
                "offhours_reduction_pct_idle_removal_only": _pct(base_nh, idle_nh),
                "offhours_gpu_hours_baseline": base_gh,
                "offhours_gpu_hours_simulated": sim_gh,
                "offhours_gpu_hours_reduction_pct": _pct(base_gh, sim_gh),
                "offhours_cost_usd_baseline": base_usd,
                "offhours_cost_usd_simulated": sim_usd,
                "offhours_cost_reduction_pct": _pct(base_usd, sim_usd),
                "offhours_target_met": float(reduction >= s.target_offhours_reduction_pct),
            }
        )
        tzs = s.group_timezones(grid)
        zones = sorted({f"{g.cluster or '?'}={tz}" for g, tz in zip(grid.groups, tzs, strict=True)})
        cuts = s.offhours_demand_ratio
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
                f"business hours '{s.business_schedule}' for {s.business_duration}, local time "
                f"({', '.join(zones)}); budgets {s.business_budget} business hours / "
                f"{s.evening_budget} evenings / {s.weekend_budget} weekends",
                f"off-hours reduction: off-hours node-hours {base_nh:,.1f} recorded -> "
                f"{sim_nh:,.1f} simulated = {reduction:.1f}% (goal >= "
                f"{s.target_offhours_reduction_pct:g}%: "
                f"{'met' if reduction >= s.target_offhours_reduction_pct else 'not met'}); "
                f"{_pct(base_nh, idle_nh):.1f}% from removing idle/underused nodes alone, the "
                f"rest from the demand cut; GPU-hours -{_pct(base_gh, sim_gh):.1f}%, "
                f"dollars -{_pct(base_usd, sim_usd):.1f}%",
                "off-hours GPU demand kept per kind: "
                + (", ".join(f"{k} {100 * v:g}%" for k, v in sorted(cuts.items())) or "all")
                + " (other kinds keep all of it, so min replicas and running jobs stay)",
                f"consolidateAfter {s.consolidate_after_minutes}m off-hours, "
                f"{s.business_consolidate_after_minutes}m in business hours; capacity packs GPU "
                "requests per node group (WhenEmptyOrUnderutilized)",
                *inputs.notes,
            ],
            fleet=out,
        )
