"""The strategy contract: typed settings, one registry, pure `run(inputs) -> SimResult`.

A strategy is one small class: a pydantic settings model (every field has a default, bounds and a
description), a docstring that doubles as help text (formatted with the settings), and a pure
`run`. `@register("name", step=N, risk=...)` puts it in `STRATEGIES`, the only list of strategies:
`chain()` (the single strategies in the order `all` chains them), `strategy_names()` (what the CLI
accepts) and the recommendation's risk levels all read it; `get_strategy` raises an error that
lists the valid names.
"""

from __future__ import annotations

import string
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar, Generic, TypeVar

from pydantic import BaseModel, ConfigDict

from costlab.errors import UsageError
from costlab.money import micros_to_usd
from costlab.simulate.fleet import FleetGrid


class UnknownStrategyError(UsageError):
    """A strategy name that is not registered."""


class StrategySettings(BaseModel):
    """Base of every strategy's settings: frozen, no unknown keys."""

    model_config = ConfigDict(frozen=True, extra="forbid")


S = TypeVar("S", bound=StrategySettings)

HOURS_PER_MONTH = 730.0


@dataclass(frozen=True)
class SimInputs:
    """Everything a strategy may read: the recorded fleet on a time grid plus reference frames.

    `fleet` is the gridded demand and node counts (see costlab.simulate.fleet); `workloads` has one
    row per workload (namespace, workload, kind, GPUs per pod, GPU-memory percentile, baseline
    GPU-hours and cost); `catalog` lists instance types with GPU count/model/memory and on-demand
    $/h; `interruptions` has per family the observed spot node-days and interruptions.
    """

    fleet: FleetGrid
    workloads: Any  # polars.DataFrame
    catalog: Any  # polars.DataFrame
    interruptions: Any  # polars.DataFrame
    baseline_cost_usd_micros: int
    unpriced_node_hours: float = 0.0
    notes: tuple[str, ...] = ()


@dataclass
class SimResult:
    """What a strategy reports. Savings are derived, never stored beside their parts."""

    strategy: str
    baseline_cost_usd_micros: int
    simulated_cost_usd_micros: int
    window_hours: float
    risk: dict[str, float] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)
    assumptions: list[str] = field(default_factory=list)
    details: list[dict[str, Any]] = field(default_factory=list)
    undefined: str | None = None  # why the strategy could not say anything (no data), else None
    fleet: FleetGrid | None = None  # the simulated fleet, for composing strategies

    @property
    def savings_usd_micros(self) -> int:
        return self.baseline_cost_usd_micros - self.simulated_cost_usd_micros

    @property
    def savings_ratio(self) -> float:
        if self.baseline_cost_usd_micros <= 0:
            return 0.0
        return self.savings_usd_micros / self.baseline_cost_usd_micros

    @property
    def savings_per_month_usd_micros(self) -> int:
        if self.window_hours <= 0:
            return 0
        return round(self.savings_usd_micros * HOURS_PER_MONTH / self.window_hours)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able view (money as decimal strings of USD and as micros), sorted-key friendly."""
        return {
            "strategy": self.strategy,
            "undefined": self.undefined,
            "window_hours": round(self.window_hours, 6),
            "baseline_cost_usd_micros": self.baseline_cost_usd_micros,
            "simulated_cost_usd_micros": self.simulated_cost_usd_micros,
            "savings_usd_micros": self.savings_usd_micros,
            "savings_pct": round(100 * self.savings_ratio, 2),
            "savings_per_month_usd": str(micros_to_usd(self.savings_per_month_usd_micros)),
            "risk": {k: round(v, 6) for k, v in sorted(self.risk.items())},
            "metrics": {k: round(v, 6) for k, v in sorted(self.metrics.items())},
            "assumptions": list(self.assumptions),
            "details": self.details,
        }


class Strategy(ABC, Generic[S]):
    """Base of all strategies.

    Subclasses set `settings_type`, write a docstring (it may use `{field}` placeholders filled from
    the settings) and implement `run`. `run` must not touch the database, clock or environment.
    """

    name: ClassVar[str] = ""
    step: ClassVar[int | None] = None  # position in the `all` chain; None: not a single step
    risk: ClassVar[str] = "medium"  # low | medium | high, for the recommendations' ranking
    settings_type: ClassVar[type[StrategySettings]] = StrategySettings

    def __init__(self, settings: S | None = None) -> None:
        self.settings: S = settings if settings is not None else self.settings_type()  # type: ignore[assignment]

    @classmethod
    def help(cls, settings: StrategySettings | None = None) -> str:
        """The docstring with `{field}` placeholders filled from `settings` (default settings)."""
        values = (settings or cls.settings_type()).model_dump()
        doc = (cls.__doc__ or cls.name).strip()
        names = {f for _, f, _, _ in string.Formatter().parse(doc) if f}
        return doc.format(**{n: values.get(n, "{" + n + "}") for n in names})

    @abstractmethod
    def run(self, inputs: SimInputs) -> SimResult:
        """Replay the recorded fleet under this strategy."""

    def undefined(self, inputs: SimInputs, why: str) -> SimResult:
        """The explicit "cannot say" result: simulated = baseline, with the reason."""
        return SimResult(
            self.name,
            inputs.baseline_cost_usd_micros,
            inputs.baseline_cost_usd_micros,
            inputs.fleet.window_hours,
            undefined=why,
        )


STRATEGIES: dict[str, type[Strategy[Any]]] = {}


_T = TypeVar("_T", bound=Strategy[Any])


def register(
    name: str, *, step: int | None = None, risk: str = "medium"
) -> Callable[[type[_T]], type[_T]]:
    """Class decorator: register a strategy under a lower-case display name; `step` is its place
    in the `all` chain (None for a strategy that is not one step of it)."""

    def wrap(cls: type[_T]) -> type[_T]:
        key = name.lower()
        if key in STRATEGIES and STRATEGIES[key] is not cls:
            raise ValueError(f"strategy {key!r} registered twice")
        cls.name, cls.step, cls.risk = key, step, risk
        STRATEGIES[key] = cls
        return cls

    return wrap


def chain() -> list[str]:
    """The single strategies, in the order `all` chains them."""
    _load_builtin()
    steps = [(cls.step, name) for name, cls in STRATEGIES.items() if cls.step is not None]
    return [name for _, name in sorted(steps)]


def strategy_names() -> list[str]:
    """Every strategy `costlab simulate --strategy` accepts: the chain's steps, then the rest."""
    _load_builtin()
    singles = chain()
    return [*singles, *sorted(n for n in STRATEGIES if n not in singles)]


def get_strategy(name: str) -> type[Strategy[Any]]:
    """The registered strategy class for `name`; unknown names list the valid ones."""
    _load_builtin()
    try:
        return STRATEGIES[name.lower()]
    except KeyError:
        valid = ", ".join(sorted(STRATEGIES))
        raise UnknownStrategyError(
            f"unknown strategy {name!r}; valid strategies: {valid}"
        ) from None


def _load_builtin() -> None:
    import costlab.simulate.combined  # noqa: F401
    import costlab.simulate.consolidation  # noqa: F401
    import costlab.simulate.rightsize  # noqa: F401
    import costlab.simulate.schedule  # noqa: F401
    import costlab.simulate.spot  # noqa: F401
