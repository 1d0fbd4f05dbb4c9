"""all: the strategies chained on one fleet, so savings are never counted twice."""

from __future__ import annotations

from dataclasses import replace

from pydantic import Field

from costlab.money import usd_to_micros
from costlab.simulate.base import (
    SimInputs,
    SimResult,
    Strategy,
    StrategySettings,
    chain,
    get_strategy,
    register,
)
from costlab.simulate.consolidation import ConsolidationSettings
from costlab.simulate.rightsize import RightsizeSettings
from costlab.simulate.schedule import ScheduleSettings
from costlab.simulate.spot import SpotSettings


class CombinedSettings(StrategySettings):
    """One settings table per step of the chain, named as the step is registered."""

    rightsize: RightsizeSettings = Field(default_factory=RightsizeSettings, description="Step 1.")
    consolidation: ConsolidationSettings = Field(
        default_factory=ConsolidationSettings, description="Step 2."
    )
    schedule: ScheduleSettings = Field(default_factory=ScheduleSettings, description="Step 3.")
    spot: SpotSettings = Field(default_factory=SpotSettings, description="Step 4.")


@register("all")
class Combined(Strategy[CombinedSettings]):
    """Chain the single strategies in their registered order (rightsize -> consolidation ->
    schedule -> spot): each step replays the fleet the previous one left, so a GPU-hour removed by
    consolidation is not also discounted by spot.
    """

    settings_type = CombinedSettings

    def steps(self) -> list[Strategy]:
        return [get_strategy(name)(getattr(self.settings, name)) for name in chain()]

    def run(self, inputs: SimInputs) -> SimResult:
        current = inputs
        results: list[SimResult] = []
        extra_usd = 0.0
        for step in self.steps():
            res = step.run(current)
            results.append(res)
            if res.fleet is not None:
                current = replace(current, fleet=res.fleet)
            extra_usd += res.metrics.get("interruption_cost_usd", 0.0)
        first, last = inputs.fleet, current.fleet
        saved = usd_to_micros(
            round(float(first.cost_usd().sum() - last.cost_usd().sum()) - extra_usd, 6)
        )
        risk: dict[str, float] = {}
        for r in results:
            for k, v in r.risk.items():
                risk[f"{r.strategy}.{k}"] = v
        return SimResult(
            strategy=self.name,
            baseline_cost_usd_micros=inputs.baseline_cost_usd_micros,
            simulated_cost_usd_micros=inputs.baseline_cost_usd_micros - saved,
            window_hours=inputs.fleet.window_hours,
            risk=risk,
            metrics={f"{r.strategy}.step_savings_usd": r.savings_usd_micros / 1e6 for r in results},
            assumptions=[
                "steps chained: " + " -> ".join(r.strategy for r in results),
                *[f"{r.strategy}: {a}" for r in results for a in r.assumptions[:1]],
            ],
            details=[
                {"step": r.strategy, "savings_usd_micros": r.savings_usd_micros} for r in results
            ],
            fleet=last,
        )
