"""Read the recorded fleet from the database into `SimInputs` (the only I/O of the simulator)."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import resources

import duckdb
import numpy as np
import polars as pl

from costlab.errors import StoreError
from costlab.money import usd_to_micros
from costlab.simulate.base import SimInputs
from costlab.simulate.fleet import FleetGrid, Group, step_average_rows, union_intervals
from costlab.simulate.pricing import PriceBook, snapshot_ondemand
from costlab.store import load_sql

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LoadSettings:
    """How the recorded data is read: grid step, how workload kinds are found, memory percentile."""

    step_seconds: int = 60
    kind_label: str = "workload-kind"
    namespace_kinds: dict[str, str] = field(default_factory=dict)  # namespace -> kind fallback
    memory_quantile: float = 0.95


def load_catalog() -> pl.DataFrame:
    """Shipped GPU instance types (costlab/data) with the shipped us-east-1 on-demand list price."""
    data = resources.files("costlab.data")
    types = pl.read_csv(data.joinpath("gpu_instance_types.csv").read_bytes())
    prices = pl.read_csv(data.joinpath("ec2_ondemand_prices_us_east_1.csv").read_bytes())
    return types.join(
        prices.select("instance_type", "ondemand_usd_per_hour"), on="instance_type", how="left"
    )


def _frame(conn: duckdb.DuckDBPyConnection, name: str, params: dict) -> pl.DataFrame:
    frame = pl.from_arrow(conn.sql(load_sql(name), params=params).to_arrow_table())
    assert isinstance(frame, pl.DataFrame)
    return frame


def _ts(seconds: int) -> datetime:
    return datetime.fromtimestamp(seconds, tz=UTC)


def load_inputs(
    conn: duckdb.DuckDBPyConnection,
    settings: LoadSettings | None = None,
    catalog: pl.DataFrame | None = None,
) -> SimInputs:
    """The recorded fleet over the span of its data, gridded at `settings.step_seconds`."""
    settings = settings or LoadSettings()
    catalog = load_catalog() if catalog is None else catalog
    rows = conn.execute(load_sql("simulate/bounds")).fetchall()
    first, horizon = rows[0] if rows else (None, None)
    if first is None or horizon is None or horizon <= first:
        raise StoreError("the database holds no nodes yet: run `costlab demo` or a collector first")
    step = settings.step_seconds
    start_s = int(first.timestamp()) // step * step
    end_s = -(-int(horizon.timestamp()) // step) * step
    window = {"start": _ts(start_s), "end": _ts(end_s)}
    nodes = _frame(conn, "simulate/nodes", window)
    pods = _frame(conn, "simulate/pods", {**window, "kind_label": settings.kind_label})
    # the allocation's own price resolution, over every key the prices table knows
    conn.execute(load_sql("simulate/price_keys"))
    conn.execute(load_sql("allocate/price_periods"))
    periods = _frame(conn, "simulate/price_periods", {})
    memory = _frame(conn, "simulate/gpu_memory", {**window, "quantile": settings.memory_quantile})
    book = PriceBook(periods)
    n_steps = (end_s - start_s) // step
    return build_inputs(nodes, pods, memory, book, catalog, start_s, step, n_steps, settings)


def build_inputs(
    nodes: pl.DataFrame,
    pods: pl.DataFrame,
    memory: pl.DataFrame,
    book: PriceBook,
    catalog: pl.DataFrame,
    start_s: int,
    step: int,
    n_steps: int,
    settings: LoadSettings,
) -> SimInputs:
    """Price every node, group nodes, and grid nodes, pods and demand (pure; no database)."""
    notes: list[str] = []
    nodes = nodes.with_row_index("node_idx")
    # -- price each node interval at its recorded capacity type, and at on-demand and spot
    cost = np.zeros(nodes.height)
    od = np.full(nodes.height, np.nan)
    spot = np.full(nodes.height, np.nan)
    spot_src = np.zeros(nodes.height, dtype=np.int8)  # 1 own zone or region-wide, 2 other zones
    priced = np.zeros(nodes.height, dtype=bool)
    by_key = nodes.group_by(
        ["instance_type", "region", "zone", "capacity_type"], maintain_order=True
    )
    for (itype, region, zone, ctype), part in by_key:
        idx = part["node_idx"].to_numpy()
        s, e = part["start_s"].to_numpy(), part["end_s"].to_numpy()
        rec = book.integrate(itype, region, zone, ctype, s, e)
        if rec is not None:
            cost[idx], priced[idx] = rec, True
        o = book.integrate(itype, region, zone, "on-demand", s, e)
        if o is None:
            snap = snapshot_ondemand(catalog, region, itype)
            o = None if snap is None else snap * (e - s) / 3600.0
        if o is not None:
            od[idx] = o
        p = book.integrate(itype, region, zone, "spot", s, e)
        if p is not None:
            spot[idx], spot_src[idx] = p, 1
        else:
            p = book.integrate_other_zones(itype, region, "spot", s, e)
            if p is not None:
                spot[idx], spot_src[idx] = p, 2
    hours = (nodes["end_s"] - nodes["start_s"]).to_numpy() / 3600.0
    unpriced_hours = float(hours[~priced].sum())
    if unpriced_hours > 0:
        notes.append(
            f"{unpriced_hours:.1f} node-hours have no price and are left out of every cost"
        )
    nodes = nodes.with_columns(
        pl.Series("cost_usd", cost),
        pl.Series("od_usd", od),
        pl.Series("spot_usd", spot),
        pl.Series("spot_src", spot_src),
        pl.Series("priced", priced),
        pl.Series("hours", hours),
    )
    group_keys = ["cluster", "nodepool", "instance_type", "capacity_type"]
    gframe = (
        nodes.group_by(group_keys)
        .agg(
            pl.col("family").first(),
            pl.col("region").first(),
            pl.col("spot_src").max(),
            pl.col("gpu_count").max(),
            pl.col("gpu_model").first(),
            pl.col("cost_usd").filter(pl.col("priced")).sum(),
            pl.col("hours").filter(pl.col("priced")).sum().alias("priced_h"),
            pl.col("od_usd").filter(pl.col("od_usd").is_not_nan()).sum(),
            pl.col("hours").filter(pl.col("od_usd").is_not_nan()).sum().alias("od_h"),
            pl.col("spot_usd").filter(pl.col("spot_usd").is_not_nan()).sum(),
            pl.col("hours").filter(pl.col("spot_usd").is_not_nan()).sum().alias("spot_h"),
        )
        .sort(group_keys)
        .with_row_index("group_idx")
    )
    nodes = nodes.join(gframe.select(*group_keys, "group_idx"), on=group_keys)
    pods = pods.with_columns(
        pl.when(pl.col("kind") == "")
        .then(pl.col("namespace").replace_strict(settings.namespace_kinds, default=""))
        .otherwise(pl.col("kind"))
        .alias("kind")
    )
    placed = (
        pods.join(
            nodes.select(
                "cluster",
                "node",
                "node_idx",
                "group_idx",
                pl.col("start_s").alias("ns"),
                pl.col("end_s").alias("ne"),
            ),
            on=["cluster", "node"],
            how="inner",
        )
        .filter((pl.col("start_s") >= pl.col("ns")) & (pl.col("start_s") < pl.col("ne")))
        .with_columns(pl.min_horizontal("end_s", "ne").alias("end_s"))
        .filter(pl.col("end_s") > pl.col("start_s"))
    )
    n_groups = gframe.height
    groups: list[Group] = []
    pod_hours = (
        (placed["end_s"] - placed["start_s"]).to_numpy() / 3600.0 if placed.height else np.zeros(0)
    )
    placed = placed.with_columns(pl.Series("pod_h", pod_hours))
    mean_pod = dict(placed.group_by("group_idx").agg(pl.col("pod_h").mean()).iter_rows())
    for row in gframe.iter_rows(named=True):
        price = row["cost_usd"] / row["priced_h"] if row["priced_h"] > 0 else 0.0
        groups.append(
            Group(
                nodepool=row["nodepool"],
                instance_type=row["instance_type"],
                capacity_type=row["capacity_type"],
                family=row["family"],
                gpus_per_node=float(row["gpu_count"]),
                gpu_model=row["gpu_model"],
                price_per_hour=price,
                ondemand_price_per_hour=row["od_usd"] / row["od_h"] if row["od_h"] > 0 else None,
                spot_price_per_hour=row["spot_usd"] / row["spot_h"] if row["spot_h"] > 0 else None,
                mean_pod_hours=float(mean_pod.get(row["group_idx"], 0.0)),
                cluster=row["cluster"],
                region=row["region"],
                spot_price_source=("", "zone", "other-zones")[int(row["spot_src"])],
            )
        )

    def grid(frame: pl.DataFrame, weight: np.ndarray | None = None) -> np.ndarray:
        out = np.zeros((n_groups, n_steps))
        if frame.height == 0:
            return out
        g = frame["group_idx"].to_numpy()
        s, e = frame["start_s"].to_numpy(), frame["end_s"].to_numpy()
        w = np.ones(frame.height) if weight is None else weight
        return step_average_rows(g, s, e, w, n_groups, start_s, step, n_steps)

    node_grid = grid(nodes)
    pod_grid = grid(placed)
    demand = grid(placed, placed["gpus"].to_numpy() if placed.height else None)
    kind_demand = {
        str(kind): grid(part, part["gpus"].to_numpy())
        for (kind,), part in placed.group_by(["kind"], maintain_order=True)
    }
    if placed.height:
        k, s, e = union_intervals(
            placed["node_idx"].to_numpy(), placed["start_s"].to_numpy(), placed["end_s"].to_numpy()
        )
        node_group = nodes.sort("node_idx")["group_idx"].to_numpy()
        occupied = grid(pl.DataFrame({"group_idx": node_group[k], "start_s": s, "end_s": e}))
    else:
        occupied = np.zeros((n_groups, n_steps))
    wl_index, wl_demand = workload_grid(placed, start_s, step, n_steps)
    fleet = FleetGrid(
        start_s,
        step,
        groups,
        node_grid,
        occupied,
        demand,
        pod_grid,
        kind_demand,
        wl_index,
        wl_demand,
    )
    workloads = _workloads(placed, memory, groups)
    interruptions = (
        nodes.filter(pl.col("capacity_type") == "spot")
        .group_by("family")
        .agg(
            (pl.col("hours").sum() / 24.0).alias("spot_node_days"),
            (pl.col("end_reason") == "interrupted").sum().alias("interrupted"),
        )
        .sort("family")
    )
    baseline = usd_to_micros(round(float(cost[priced].sum()), 6))
    return SimInputs(
        fleet, workloads, catalog, interruptions, baseline, unpriced_hours, tuple(notes)
    )


def workload_grid(
    placed: pl.DataFrame, start_s: int, step: int, n_steps: int
) -> tuple[list[tuple[str, int]], np.ndarray]:
    """GPUs requested per (workload, group) pair and step, pairs sorted; rows of the grid."""
    if placed.height == 0:
        return [], np.zeros((0, n_steps))
    pairs = placed.select("workload", "group_idx").unique().sort(["workload", "group_idx"])
    pairs = pairs.with_row_index("row")
    rows = placed.join(pairs, on=["workload", "group_idx"], how="left")["row"].to_numpy()
    demand = step_average_rows(
        rows,
        placed["start_s"].to_numpy(),
        placed["end_s"].to_numpy(),
        placed["gpus"].to_numpy(),
        pairs.height,
        start_s,
        step,
        n_steps,
    )
    index = [(str(w), int(g)) for w, g in pairs.select("workload", "group_idx").iter_rows()]
    return index, demand


def _workloads(placed: pl.DataFrame, memory: pl.DataFrame, groups: list[Group]) -> pl.DataFrame:
    """One row per workload: kind, team, model, GPUs per pod, peak pods, GPU-hours, memory need."""
    if placed.height == 0:
        return pl.DataFrame(schema={"workload": pl.Utf8, "namespace": pl.Utf8, "kind": pl.Utf8})
    gpu_h = placed.with_columns((pl.col("gpus") * pl.col("pod_h")).alias("gpu_h"))
    share = pl.DataFrame(
        {
            "group_idx": list(range(len(groups))),
            "usd_per_gpu_h": [
                g.price_per_hour / g.gpus_per_node if g.gpus_per_node else 0.0 for g in groups
            ],
            "instance_type": [g.instance_type for g in groups],
        },
        schema_overrides={"group_idx": pl.UInt32},
    )
    gpu_h = gpu_h.join(share, on="group_idx", how="left").with_columns(
        (pl.col("gpu_h") * pl.col("usd_per_gpu_h")).alias("cost_usd")
    )
    mem = memory.join(
        placed.select("cluster", "namespace", "pod", "workload").unique(),
        on=["cluster", "namespace", "pod"],
    )
    mem_w = mem.group_by("workload").agg(
        pl.col("fb_used_q_mib").max(), pl.col("fb_used_max_mib").max(), pl.col("samples").sum()
    )
    main_type = (
        gpu_h.group_by("workload", "instance_type")
        .agg(pl.col("gpu_h").sum())
        .sort(["workload", "gpu_h", "instance_type"], descending=[False, True, False])
        .group_by("workload", maintain_order=True)
        .first()
        .select("workload", pl.col("instance_type").alias("current_type"))
    )
    return (
        gpu_h.group_by("workload")
        .agg(
            pl.col("namespace").first(),
            pl.col("kind").mode().sort().first(),
            pl.col("team").mode().sort().first(),
            pl.col("model").mode().sort().first(),
            pl.col("gpus").max().alias("gpus_per_pod"),
            pl.col("pod").n_unique().alias("pods"),
            pl.col("gpu_h").sum().alias("gpu_hours"),
            pl.col("cost_usd").sum().alias("baseline_cost_usd"),
        )
        .join(main_type, on="workload", how="left")
        .join(mem_w, on="workload", how="left")
        .sort("workload")
    )
