"""all: the strategies chained on one fleet, so savings are never counted twice."""

from __future__ import annotations

from dataclasses import replace

from pydantic import Field

from costlab.money import usd_to_micros
from costlab.simulate.base import SimInputs, SimResult, Strategy, StrategySettings, register
from costlab.simulate.consolidation import Consolidation, ConsolidationSettings
from costlab.simulate.rightsize import Rightsize, RightsizeSettings
from costlab.simulate.schedule import Schedule, ScheduleSettings
from costlab.simulate.spot import Spot, SpotSettings


class CombinedSettings(StrategySettings):
    rightsize: RightsizeSettings = Field(default_factory=RightsizeSettings, description="Step 1.")
    consolidation: ConsolidationSettings = Field(
        default_factory=ConsolidationSettings, description="Step 2."
    )
    schedule: ScheduleSettings = Field(default_factory=ScheduleSettings, description="Step 3.")
    spot: SpotSettings = Field(default_factory=SpotSettings, description="Step 4.")


@register("all")
class Combined(Strategy[CombinedSettings]):
    """Chain rightsize -> consolidation -> schedule -> spot: each step replays the fleet the
    previous one left, so a GPU-hour removed by consolidation is not also discounted by spot.
    """

    settings_type = CombinedSettings

    def steps(self) -> list[Strategy]:
        s = self.settings
        return [
            Rightsize(s.rightsize),
            Consolidation(s.consolidation),
            Schedule(s.schedule),
            Spot(s.spot),
        ]

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
