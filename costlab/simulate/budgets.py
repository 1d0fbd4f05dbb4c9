"""Karpenter disruption budgets on the simulation grid, and the budget-limited scale-down replay."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
from croniter import croniter
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from costlab.errors import UsageError
from costlab.simulate.fleet import FleetGrid, rolling_max

_DURATION = re.compile(r"^(?:(\d+)h)?(?:(\d+)m)?(?:0s)?$")
_NODES = re.compile(r"^((100|[0-9]{1,2})%|[0-9]+)$")


def parse_duration(text: str) -> timedelta:
    """Karpenter duration '8h', '30m', '1h30m' (optionally with a trailing '0s')."""
    m = _DURATION.match(text.strip())
    if not m or not (m.group(1) or m.group(2)):
        raise UsageError(f"duration {text!r} is not like '8h', '30m' or '1h30m'")
    return timedelta(hours=int(m.group(1) or 0), minutes=int(m.group(2) or 0))


class Budget(BaseModel):
    """One Karpenter v1 disruption budget: `nodes` ("10%" or "3"), optional cron window."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    nodes: str = Field("10%", description="Max nodes disrupted at once: a count or a percentage.")
    schedule: str | None = Field(
        None, description="Cron (5 fields) when the budget starts; needs duration."
    )
    duration: str | None = Field(
        None, description="How long the budget stays active after each hit."
    )

    @field_validator("nodes")
    @classmethod
    def _nodes(cls, v: str) -> str:
        if not _NODES.match(v):
            raise ValueError(f"nodes {v!r} must be a count like '3' or a percentage like '10%'")
        return v

    @model_validator(mode="after")
    def _pair(self) -> Budget:
        if (self.schedule is None) != (self.duration is None):
            raise ValueError("schedule and duration must be set together")
        if self.schedule is not None and not croniter.is_valid(self.schedule):
            raise ValueError(f"schedule {self.schedule!r} is not a valid cron expression")
        if self.duration is not None:
            parse_duration(self.duration)
        return self

    def allowed(self, node_count: np.ndarray) -> np.ndarray:
        """Nodes this budget lets terminate at once, given the node count (percent rounds up)."""
        if self.nodes.endswith("%"):
            return np.ceil(float(self.nodes[:-1]) / 100.0 * node_count - 1e-9)
        return np.full(node_count.shape, float(self.nodes))


def active_mask(
    schedule: str | None, duration: str | None, grid: FleetGrid, tz: str = "UTC"
) -> np.ndarray:
    """Boolean per grid step: is the cron window [hit, hit + duration) active at the step start?

    Cron hits are computed in `tz` (DST-correct via croniter on aware datetimes); loops run once
    per cron hit, never per step.
    """
    n = grid.n_steps
    if schedule is None or duration is None:
        return np.ones(n, dtype=bool)
    zone = ZoneInfo(tz)
    length = parse_duration(duration)
    first = datetime.fromtimestamp(grid.start_s, tz=UTC) - length
    last_s = grid.start_s + grid.step_s * n
    it = croniter(schedule, first.astimezone(zone) - timedelta(seconds=1))
    diff = np.zeros(n + 1)
    while True:
        hit = it.get_next(datetime)
        hit_s = int(hit.timestamp())
        if hit_s >= last_s:
            break
        end_s = int((hit.astimezone(UTC) + length).timestamp())
        lo = max(0, -(-(hit_s - grid.start_s) // grid.step_s))
        hi = min(n, -(-(end_s - grid.start_s) // grid.step_s))
        if hi > lo:
            diff[lo] += 1
            diff[hi] -= 1
    return np.cumsum(diff[:-1]) > 0


def group_mask(
    schedule: str | None, duration: str | None, grid: FleetGrid, tz: str | Sequence[str] = "UTC"
) -> np.ndarray:
    """(groups, steps) `active_mask` with one timezone for all groups or one per group."""
    zones = [tz] * len(grid.groups) if isinstance(tz, str) else list(tz)
    masks = {z: active_mask(schedule, duration, grid, z) for z in sorted(set(zones))}
    if not zones:
        return np.zeros((0, grid.n_steps), dtype=bool)
    return np.vstack([masks[z] for z in zones])


def allowed_disruptions(
    budgets: list[Budget],
    grid: FleetGrid,
    node_count: np.ndarray,
    tz: str | Sequence[str] = "UTC",
) -> np.ndarray:
    """(groups, steps) nodes allowed to terminate at once: the most restrictive active budget.

    With no active budget Karpenter's default (10%) applies. `tz` is one timezone for every group
    or one per group (each cluster reads its crons in its own zone).
    """
    if not budgets:
        budgets = [Budget()]
    out = np.full(node_count.shape, np.inf)
    any_active = np.zeros(node_count.shape, dtype=bool)
    for b in budgets:
        mask = group_mask(b.schedule, b.duration, grid, tz)
        any_active |= mask
        out = np.where(mask, np.minimum(out, b.allowed(node_count)), out)
    default = Budget().allowed(node_count)
    return np.where(any_active, out, default)


def replay_scale_down(
    nodes: np.ndarray, need: np.ndarray, after_steps: int, allowed: np.ndarray, drain_steps: float
) -> np.ndarray:
    """Simulated node counts: capacity falls to `need` once the surplus lasted `after_steps`.

    target(t) = min(nodes(t), max(need over [t - after, t])) (the start is padded with the
    recorded count, so surplus at the start also waits). Removals are rate-limited by the budget:
    with C(t) = cumulative `allowed / drain_steps`, S(t) = max_u<=t (target(u) + C(u)) - C(t),
    capped at the recorded count. All numpy: running maxima, no loops over steps.
    """
    pad = np.repeat(nodes[:, :1], after_steps, axis=1)
    padded = np.concatenate([pad, need], axis=1)
    target = rolling_max(padded, after_steps)[:, after_steps:]
    target = np.minimum(nodes, target)
    c = np.cumsum(allowed / max(drain_steps, 1e-9), axis=1)
    c = np.where(np.isfinite(c), c, 1e18)
    sim = np.maximum.accumulate(target + c, axis=1) - c
    return np.clip(np.minimum(sim, nodes), 0.0, None)


def _drops(sim: np.ndarray, occupied: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per step: nodes that went away, and how many of them still held pods a step before."""
    prev = np.concatenate([sim[:, :1], sim[:, :-1]], axis=1)
    drops = np.clip(prev - sim, 0.0, None)
    occ_prev = np.minimum(np.concatenate([occupied[:, :1], occupied[:, :-1]], axis=1), prev)
    busy_removed = np.clip(np.minimum(drops, occ_prev - sim), 0.0, None)
    return drops, busy_removed


def _pods_per_node(occupied: np.ndarray, pods: np.ndarray) -> np.ndarray:
    return np.divide(
        pods, np.maximum(occupied, 1e-9), out=np.zeros_like(pods), where=occupied > 1e-9
    )


def removals_and_evictions(
    sim: np.ndarray, occupied: np.ndarray, pods: np.ndarray
) -> tuple[float, float]:
    """Nodes removed (sum of drops) and pods evicted (drops of occupied nodes x pods per node)."""
    drops, busy_removed = _drops(sim, occupied)
    return float(drops.sum()), float((busy_removed * _pods_per_node(occupied, pods)).sum())


def caused_removals_and_evictions(
    base: np.ndarray, sim: np.ndarray, occupied: np.ndarray, pods: np.ndarray
) -> tuple[float, float]:
    """Removals and evictions the strategy adds to those already in its input fleet `base`.

    Per step, the strategy's drops (and drops of occupied nodes) minus the input's own, clipped at
    zero: a node the input fleet loses anyway (it ended, or an earlier strategy shrank its group as
    demand moved away) is not a disruption of this strategy, and its pods are not evicted by it.
    """
    d_sim, b_sim = _drops(sim, occupied)
    d_base, b_base = _drops(base, occupied)
    removed = np.clip(d_sim - d_base, 0.0, None)
    busy = np.clip(b_sim - b_base, 0.0, None)
    return float(removed.sum()), float((busy * _pods_per_node(occupied, pods)).sum())
