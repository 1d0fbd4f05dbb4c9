"""The recorded fleet on a regular time grid: what strategies read and transform.

Grain: one row per node group (cluster x nodepool x instance type x capacity type) and one column
per grid step of `step_s` seconds. Every array value is the time-average over its step, computed
exactly from the recorded intervals (cumulative-area interpolation, no per-second loops):

- `nodes`: nodes alive (float, a fraction when a node lives part of the step)
- `occupied`: nodes that hold at least one GPU pod
- `demand`: GPUs requested (whole-GPU units; MIG slices as fractions)
- `pods`: GPU pods running
- `kind_demand[kind]`: GPUs requested by pods of that workload kind (inference, training, ...)
- `wl_demand`: GPUs requested per (workload, group) pair, rows listed in `wl_index`

Costs on the grid are `sum(nodes) * step_h * price_per_hour` per group.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np


@dataclass(frozen=True)
class Group:
    """One node group and its prices in USD per node-hour (floats; micros at the end).

    `spot_price_source` says where the spot price came from: 'zone' (recorded spot history of the
    zones the group's nodes ran in, region-wide rows included), 'other-zones' (some nodes' zones
    had none, so the mean of the same type's other zones in the region filled in), or '' (none).
    """

    nodepool: str
    instance_type: str
    capacity_type: str
    family: str
    gpus_per_node: float
    gpu_model: str
    price_per_hour: float  # what the group costs now (recorded average, or after a strategy)
    ondemand_price_per_hour: float | None
    spot_price_per_hour: float | None  # node-hour-weighted over the zones the group used
    mean_pod_hours: float = 0.0
    cluster: str = ""
    region: str = ""
    spot_price_source: str = ""


@dataclass
class FleetGrid:
    start_s: int
    step_s: int
    groups: list[Group]
    nodes: np.ndarray
    occupied: np.ndarray
    demand: np.ndarray
    pods: np.ndarray
    kind_demand: dict[str, np.ndarray] = field(default_factory=dict)
    wl_index: list[tuple[str, int]] = field(default_factory=list)  # (workload id, group index)
    wl_demand: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))

    @property
    def n_steps(self) -> int:
        return int(self.nodes.shape[1]) if self.nodes.ndim == 2 else 0

    @property
    def step_h(self) -> float:
        return self.step_s / 3600.0

    @property
    def window_hours(self) -> float:
        return self.n_steps * self.step_h

    def step_starts(self) -> np.ndarray:
        return self.start_s + self.step_s * np.arange(self.n_steps, dtype=np.int64)

    def node_hours(self) -> np.ndarray:
        """Node-hours per group."""
        return self.nodes.sum(axis=1) * self.step_h

    def cost_usd(self) -> np.ndarray:
        """USD per group at each group's current price."""
        prices = np.array([g.price_per_hour for g in self.groups], dtype=float)
        return self.node_hours() * prices

    def copy(self) -> FleetGrid:
        return replace(
            self,
            groups=list(self.groups),
            nodes=self.nodes.copy(),
            occupied=self.occupied.copy(),
            demand=self.demand.copy(),
            pods=self.pods.copy(),
            kind_demand={k: v.copy() for k, v in self.kind_demand.items()},
            wl_index=list(self.wl_index),
            wl_demand=self.wl_demand.copy(),
        )


def step_average(
    starts: np.ndarray,
    ends: np.ndarray,
    weights: np.ndarray,
    grid_start: int,
    step_s: int,
    n_steps: int,
) -> np.ndarray:
    """Time-average over each grid step of sum(weight * [start <= t < end]).

    Exact for any interval bounds: builds the cumulative area A(t) at the sorted event times and
    interpolates it (piecewise linear) at the grid boundaries.
    """
    if len(starts) == 0:
        return np.zeros(n_steps)
    grid_end = grid_start + step_s * n_steps
    s = np.clip(starts.astype(np.float64), grid_start, grid_end)
    e = np.clip(ends.astype(np.float64), grid_start, grid_end)
    keep = e > s
    s, e, w = s[keep], e[keep], weights[keep].astype(np.float64)
    if len(s) == 0:
        return np.zeros(n_steps)
    times = np.concatenate([s, e])
    deltas = np.concatenate([w, -w])
    order = np.argsort(times, kind="stable")
    times, deltas = times[order], deltas[order]
    level = np.cumsum(deltas)  # value right after each event
    area = np.concatenate([[0.0], np.cumsum(level[:-1] * np.diff(times))])
    bounds = grid_start + step_s * np.arange(n_steps + 1, dtype=np.float64)
    # before the first event the area is 0, after the last it is constant (level is 0 there)
    a = np.interp(bounds, times, area, left=0.0, right=area[-1])
    return np.diff(a) / step_s


def step_average_rows(
    rows: np.ndarray,
    starts: np.ndarray,
    ends: np.ndarray,
    weights: np.ndarray,
    n_rows: int,
    grid_start: int,
    step_s: int,
    n_steps: int,
) -> np.ndarray:
    """(n_rows, n_steps): `step_average` for many rows at once (row index per interval).

    Each interval adds its partial first and last steps directly and its full steps through a
    difference array, so the cost is O(intervals + rows x steps) with no loop over rows.
    """
    out = np.zeros((n_rows, n_steps + 1))
    if len(starts) == 0 or n_steps == 0:
        return out[:, :-1]
    grid_end = grid_start + step_s * n_steps
    s = np.clip(starts.astype(np.int64), grid_start, grid_end) - grid_start
    e = np.clip(ends.astype(np.int64), grid_start, grid_end) - grid_start
    keep = e > s
    r, s, e, w = rows[keep].astype(np.int64), s[keep], e[keep], weights[keep].astype(np.float64)
    i0, i1 = s // step_s, e // step_s
    width = n_steps + 1
    same = i0 == i1
    np.add.at(out.ravel(), r[same] * width + i0[same], w[same] * (e - s)[same] / step_s)
    r, s, e, w, i0, i1 = r[~same], s[~same], e[~same], w[~same], i0[~same], i1[~same]
    np.add.at(out.ravel(), r * width + i0, w * ((i0 + 1) * step_s - s) / step_s)
    np.add.at(out.ravel(), r * width + i1, w * (e - i1 * step_s) / step_s)  # i1 <= n_steps
    full = np.zeros((n_rows, n_steps + 1))
    np.add.at(full.ravel(), r * width + i0 + 1, w)
    np.add.at(full.ravel(), r * width + i1, -w)
    return (out + np.cumsum(full, axis=1))[:, :-1]


def union_intervals(
    keys: np.ndarray, starts: np.ndarray, ends: np.ndarray
) -> tuple[np.ndarray, ...]:
    """Merge overlapping [start, end) intervals that share a key (vectorised).

    Returns (keys, starts, ends) of the merged intervals, sorted by key then start.
    """
    if len(keys) == 0:
        return keys, starts, ends
    order = np.lexsort((starts, keys))
    k, s, e = keys[order], starts[order].astype(np.int64), ends[order].astype(np.int64)
    span = int(e.max() - s.min()) + 2
    offset = (k.astype(np.int64) - int(k.min())) * span
    s_off, e_off = s - int(s.min()) + offset, e - int(s.min()) + offset
    run_max = np.maximum.accumulate(e_off)
    new = np.ones(len(k), dtype=bool)
    new[1:] = s_off[1:] > run_max[:-1]
    seg = np.cumsum(new) - 1
    out_end = np.full(seg[-1] + 1, np.iinfo(np.int64).min)
    np.maximum.at(out_end, seg, e)
    return k[new], s[new], out_end


def rolling_max(values: np.ndarray, window: int) -> np.ndarray:
    """max(values[t - window .. t]) along the last axis (window in steps, >= 0), vectorised.

    Uses the van Herk/Gil-Werman block trick: O(T) with numpy accumulations only.
    """
    if window <= 0:
        return values.copy()
    w = window + 1
    t = values.shape[-1]
    pad = (-(t + window)) % w
    lead = np.full(values.shape[:-1] + (window,), -np.inf)
    x = np.concatenate([lead, values, np.full(values.shape[:-1] + (pad,), -np.inf)], axis=-1)
    blocks = x.reshape(values.shape[:-1] + (-1, w))
    prefix = np.maximum.accumulate(blocks, axis=-1).reshape(x.shape)
    suffix = np.flip(np.maximum.accumulate(np.flip(blocks, -1), axis=-1), -1).reshape(x.shape)
    # window [i - window, i] in padded coordinates is [j, j + window] with j = i
    j = np.arange(t)
    return np.maximum(suffix[..., j], prefix[..., j + window])
