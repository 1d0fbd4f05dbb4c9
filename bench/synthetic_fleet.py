"""Seeded synthetic GPU fleet as Hive-partitioned Parquet, for the allocation benchmark.

    plan = plan_fleet(days=30, gpus=1024, step_s=15, seed=7)
    write_fleet(plan, Path("/tmp/costlab-bench/fleet"), workers=2)

Fleet: `clusters` clusters (regions us-east-1, us-west-2, ...), each with half p4d.24xlarge
(8 x A100), 3/8 g5.12xlarge (4 x A10G) and the rest g5.xlarge (1 x A10G) GPUs. A node *slot* is
a sequence of node lifetimes: on-demand slots live the whole window, spot slots are replaced
(new node name, a few minutes' gap) every ~2 days. Node starts are not hour-aligned. GPUs of a
node are cut into lanes (p4d: 4+2+1+1, g5.12xlarge: 2+1+1, g5.xlarge: 1); each lane runs a
sequence of pods requesting the lane's GPUs (mean 4 h) separated by idle gaps (mean 45 min).
Prices: a region-wide on-demand snapshot, spot history per zone changing every 1-6 h at
arbitrary minutes, and a manual p4d override in the first region from the middle of the window.

Files under a root (the layout of costlab/scale/parquet_layout.py, manifest included):
    gpu_samples/cluster=<c>/date=<YYYY-MM-DD>/part-0.parquet   one row per GPU per step
    nodes|pod_gpu_requests|pod_labels|namespace_labels/cluster=<c>/part-0.parquet
    prices/part-0.parquet
gpu_samples are written one (cluster, day) file at a time in row groups of `chunk_hours`,
GPU-major inside a row group (as a range-query collector writes them), so memory is bounded by
one chunk whatever the number of days. Samples of GPUs held by a pod carry its namespace/pod.
"""

from __future__ import annotations

import json
import multiprocessing as mp
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

T0 = datetime(2026, 10, 1, tzinfo=UTC)
HOUR_MS = 3_600_000
DAY_MS = 24 * HOUR_MS

# (instance type, GPUs, GPU model, on-demand $/h, lanes, share of a cluster's GPUs)
TYPES = (
    ("p4d.24xlarge", 8, "A100", 21.957642, (4, 2, 1, 1), 0.5),
    ("g5.12xlarge", 4, "A10G", 5.672, (2, 1, 1), 0.375),
    ("g5.xlarge", 1, "A10G", 1.006, (1,), 0.125),
)
REGIONS = ("us-east-1", "us-west-2", "eu-west-1", "ap-northeast-1")
NAMESPACES = tuple(
    f"ns-{n}"
    for n in (
        "search",
        "ranking",
        "llm-serve",
        "llm-train",
        "vision",
        "speech",
        "recsys",
        "ads",
        "sandbox",
        "research",
        "eval",
        "batch",
    )
)
NS_TEAM = {ns: ns.removeprefix("ns-") + "-team" for ns in NAMESPACES[:8]}  # the rest unlabelled
MODELS = ("llama-3-8b", "llama-3-70b", "mistral-7b", "qwen-14b")


@dataclass
class Plan:
    """The fleet: per cluster, node lifetimes and pods as numpy arrays (ms from T0)."""

    days: int
    gpus: int
    step_ms: int
    clusters: list[str]
    regions: list[str]
    # per cluster:
    nodes: list[
        dict[str, np.ndarray]
    ]  # slot, name, start, end, type_idx, zone, spot, gpu0 (global gpu id of gpu 0)
    gpu_pods: list[
        dict[str, np.ndarray]
    ]  # per GPU pod interval: gpu (global per cluster), start, end, pod
    pods: list[
        dict[str, np.ndarray]
    ]  # pod, life (node lifetime idx), start, end, gpus, ns, name, util
    prices: dict[str, list]

    @property
    def span_ms(self) -> int:
        return self.days * DAY_MS


def _split_gpus(n: int) -> list[int]:
    """Node counts per type for n GPUs of one cluster."""
    counts = []
    left = n
    for i, (_, g, *_rest, share) in enumerate(TYPES):
        c = left // g if i == len(TYPES) - 1 else int(n * share) // g
        counts.append(c)
        left -= c * g
    return counts


def plan_fleet(days: int, gpus: int, step_s: int = 15, seed: int = 7, clusters: int = 2) -> Plan:
    rng = np.random.default_rng(seed)
    span = days * DAY_MS
    names = [f"gpu-prod-{i + 1}" for i in range(clusters)]
    regions = [REGIONS[i % len(REGIONS)] for i in range(clusters)]
    per_cluster = [gpus // clusters + (1 if i < gpus % clusters else 0) for i in range(clusters)]
    all_nodes, all_gpu_pods, all_pods = [], [], []
    for ci in range(clusters):
        slots = [t for t, c in enumerate(_split_gpus(per_cluster[ci])) for _ in range(c)]
        n_rows: dict[str, list] = {
            k: [] for k in ("slot", "start", "end", "type_idx", "zone", "spot", "gpu0")
        }
        p_rows: dict[str, list] = {k: [] for k in ("life", "start", "end", "gpus", "ns", "util")}
        gp_rows: dict[str, list] = {k: [] for k in ("gpu", "start", "end", "pod")}
        gpu_base = 0
        for si, t in enumerate(slots):
            spot = rng.random() < 0.4
            zone = int(rng.integers(0, 3))
            cursor = int(rng.integers(0, 15 * 60_000))  # first start within 15 min of T0
            while cursor < span:
                life = int(rng.exponential(2 * DAY_MS)) + HOUR_MS if spot else span
                end = min(span, cursor + life)
                li = len(n_rows["slot"])
                for k, v in zip(n_rows, (si, cursor, end, t, zone, spot, gpu_base), strict=False):
                    n_rows[k].append(v)
                gpu_base += TYPES[t][1]
                lane_gpu = 0
                for lane in TYPES[t][4]:
                    pc = cursor + int(rng.integers(60_000, 20 * 60_000))
                    while pc < end:
                        pe = min(end, pc + max(300_000, int(rng.exponential(4 * HOUR_MS))))
                        pid = len(p_rows["life"])
                        for k, v in zip(
                            p_rows,
                            (
                                li,
                                pc,
                                pe,
                                lane,
                                int(rng.integers(0, len(NAMESPACES))),
                                float(rng.uniform(20, 95)),
                            ),
                            strict=False,
                        ):
                            p_rows[k].append(v)
                        for g in range(lane):
                            for k, v in zip(
                                gp_rows,
                                (gpu_base - TYPES[t][1] + lane_gpu + g, pc, pe, pid),
                                strict=False,
                            ):
                                gp_rows[k].append(v)
                        pc = pe + int(rng.exponential(45 * 60_000))
                    lane_gpu += lane
                cursor = end + int(rng.integers(2 * 60_000, 6 * 60_000))
        nodes = {k: np.asarray(v) for k, v in n_rows.items()}
        nodes["name"] = np.array(
            [
                f"ip-10-{ci}-{i // 250}-{i % 250}.{regions[ci]}.compute.internal"
                for i in range(len(nodes["slot"]))
            ]
        )
        pods = {k: np.asarray(v) for k, v in p_rows.items()}
        pods["name"] = np.array(
            [
                f"{NAMESPACES[ns].removeprefix('ns-')}-w{i % 97}-{i:06x}"
                for i, ns in enumerate(pods["ns"])
            ]
        )
        gp = {k: np.asarray(v, dtype=np.int64) for k, v in gp_rows.items()}
        order = np.lexsort((gp["start"], gp["gpu"]))
        all_nodes.append(nodes)
        all_gpu_pods.append({k: v[order] for k, v in gp.items()})
        all_pods.append(pods)
    prices = _prices(rng, regions, span)
    return Plan(
        days, gpus, step_s * 1000, names, regions, all_nodes, all_gpu_pods, all_pods, prices
    )


def _prices(rng: np.random.Generator, regions: list[str], span: int) -> dict[str, list]:
    rows: dict[str, list] = {
        k: []
        for k in (
            "instance_type",
            "region",
            "zone",
            "capacity_type",
            "source",
            "effective_from",
            "usd_micros_per_hour",
        )
    }

    def add(*values: object) -> None:
        for k, v in zip(rows, values, strict=False):
            rows[k].append(v)

    for ri, region in enumerate(regions):
        for itype, _, _, od, _, _ in TYPES:
            add(
                itype, region, "", "on-demand", "snapshot", T0 - timedelta(days=30), round(od * 1e6)
            )
            for z in "abc":
                at = -HOUR_MS
                while at < span:
                    add(
                        itype,
                        region,
                        f"{region}{z}",
                        "spot",
                        "spot-history",
                        T0 + timedelta(milliseconds=at),
                        round(od * rng.uniform(0.3, 0.45) * 1e6),
                    )
                    at += (
                        int(rng.integers(HOUR_MS, 6 * HOUR_MS)) + int(rng.integers(0, 60)) * 60_000
                    )
        if ri == 0:
            add(
                "p4d.24xlarge",
                region,
                "",
                "on-demand",
                "manual",
                T0 + timedelta(milliseconds=span // 2),
                16_000_000,
            )
    return rows


# ---------------------------------------------------------------- small tables


def _ts(ms: np.ndarray) -> pa.Array:
    return pa.array(
        (np.asarray(ms, dtype=np.int64) * 1000) + int(T0.timestamp() * 1e6),
        pa.timestamp("us", tz="UTC"),
    )


def small_tables(plan: Plan) -> dict[str, list[tuple[str | None, pa.Table]]]:
    """table -> [(cluster or None, rows)] for nodes, pod_gpu_requests, labels and prices."""
    out: dict[str, list[tuple[str | None, pa.Table]]] = {
        "nodes": [],
        "pod_gpu_requests": [],
        "pod_labels": [],
        "namespace_labels": [],
    }
    span = plan.span_ms
    for ci, cluster in enumerate(plan.clusters):
        n, p = plan.nodes[ci], plan.pods[ci]
        still = n["end"] >= span
        end = pa.array(
            np.where(still, 0, n["end"]) * 1000 + int(T0.timestamp() * 1e6),
            pa.timestamp("us", tz="UTC"),
            mask=still,
        )
        out["nodes"].append(
            (
                cluster,
                pa.table(
                    {
                        "node": n["name"],
                        "start_ts": _ts(n["start"]),
                        "end_ts": end,
                        "end_reason": pa.array(
                            np.where(
                                still, None, np.where(n["spot"], "interrupted", "expired")
                            ).tolist()
                        ),
                        "nodepool": [
                            ("spot-" if s else "od-") + TYPES[t][0].split(".")[0]
                            for s, t in zip(n["spot"], n["type_idx"], strict=False)
                        ],
                        "instance_type": [TYPES[t][0] for t in n["type_idx"]],
                        "capacity_type": np.where(n["spot"], "spot", "on-demand"),
                        "region": [plan.regions[ci]] * len(n["slot"]),
                        "zone": [f"{plan.regions[ci]}{'abc'[z]}" for z in n["zone"]],
                        "gpu_count": pa.array([TYPES[t][1] for t in n["type_idx"]], pa.int32()),
                        "gpu_model": [TYPES[t][2] for t in n["type_idx"]],
                        "gpu_memory_mib": pa.array(
                            [81920 if TYPES[t][2] == "A100" else 24576 for t in n["type_idx"]],
                            pa.int32(),
                        ),
                    }
                ),
            )
        )
        pstill = p["end"] >= span
        pend = pa.array(
            np.where(pstill, 0, p["end"]) * 1000 + int(T0.timestamp() * 1e6),
            pa.timestamp("us", tz="UTC"),
            mask=pstill,
        )
        ns = np.array(NAMESPACES)[p["ns"]]
        out["pod_gpu_requests"].append(
            (
                cluster,
                pa.table(
                    {
                        "namespace": ns,
                        "pod": p["name"],
                        "container": ["main"] * len(ns),
                        "gpu_resource": ["nvidia.com/gpu"] * len(ns),
                        "start_ts": _ts(p["start"]),
                        "end_ts": pend,
                        "node": n["name"][p["life"]],
                        "quantity": p["gpus"].astype(float),
                    }
                ),
            )
        )
        # pod label team on a third of the pods, model on serving pods
        idx = np.arange(len(ns))
        team_rows = idx % 3 == 0
        model_rows = np.isin(ns, ["ns-llm-serve", "ns-search"])
        out["pod_labels"].append(
            (
                cluster,
                pa.table(
                    {
                        "namespace": np.concatenate([ns[team_rows], ns[model_rows]]),
                        "pod": np.concatenate([p["name"][team_rows], p["name"][model_rows]]),
                        "key": ["team"] * int(team_rows.sum()) + ["model"] * int(model_rows.sum()),
                        "value": [f"team-{i % 5}" for i in idx[team_rows]]
                        + [MODELS[i % 4] for i in idx[model_rows]],
                    }
                ),
            )
        )
        out["namespace_labels"].append(
            (
                cluster,
                pa.table(
                    {
                        "namespace": list(NS_TEAM),
                        "key": ["team"] * len(NS_TEAM),
                        "value": list(NS_TEAM.values()),
                    }
                ),
            )
        )
    out["prices"] = [(None, pa.table(plan.prices))]
    return out


# ---------------------------------------------------------------- gpu_samples

SAMPLE_SCHEMA = pa.schema(
    [
        ("ts", pa.timestamp("us", tz="UTC")),
        ("node", pa.dictionary(pa.int32(), pa.string())),
        ("gpu_index", pa.int32()),
        ("gpu_uuid", pa.dictionary(pa.int32(), pa.string())),
        ("mig_instance_id", pa.int32()),
        ("mig_profile", pa.string()),
        ("model_name", pa.dictionary(pa.int32(), pa.string())),
        ("namespace", pa.dictionary(pa.int32(), pa.string())),
        ("pod", pa.dictionary(pa.int32(), pa.string())),
        ("container", pa.dictionary(pa.int32(), pa.string())),
        ("util_pct", pa.float64()),
        ("fb_used_mib", pa.float64()),
        ("fb_free_mib", pa.float64()),
        ("power_w", pa.float64()),
        ("temp_c", pa.float64()),
        ("engine_active_ratio", pa.float64()),
        ("sample_ms", pa.int32()),
    ]
)


def _dict(
    codes: np.ndarray, values: np.ndarray, mask: np.ndarray | None = None
) -> pa.DictionaryArray:
    """Dictionary column holding only the values used (compact dictionary page per row group)."""
    codes = codes if mask is None else np.where(mask, 0, codes)
    seen = np.bincount(codes, minlength=len(values)) > 0
    remap = (np.cumsum(seen) - 1).astype(np.int32)
    return pa.DictionaryArray.from_arrays(pa.array(remap[codes], mask=mask), pa.array(values[seen]))


def sample_chunk(plan: Plan, ci: int, c0: int, c1: int, seed: int) -> pa.Table:
    """Samples of cluster ci for ts in [c0, c1) ms, GPU-major."""
    nodes, gp, pods = plan.nodes[ci], plan.gpu_pods[ci], plan.pods[ci]
    span = np.int64(plan.span_ms)
    grid = np.arange(c0, c1, plan.step_ms, dtype=np.int64)
    # every GPU of every node lifetime that overlaps the chunk
    lives = np.flatnonzero((nodes["start"] < c1) & (nodes["end"] > c0))
    gcount = np.array([TYPES[t][1] for t in nodes["type_idx"][lives]])
    life_of = np.repeat(lives, gcount)
    gidx = np.arange(len(life_of)) - np.repeat(np.cumsum(gcount) - gcount, gcount)
    t = np.tile(grid, len(life_of))
    life = np.repeat(life_of, len(grid))
    alive = (t >= nodes["start"][life]) & (t < nodes["end"][life])
    t, life = t[alive], life[alive]
    gi = np.repeat(gidx, len(grid))[alive]
    gpu = nodes["gpu0"][life] + gi
    # pod holding the GPU at t: last interval starting at or before t on that GPU, if not ended
    key = gpu * span + t
    starts = gp["gpu"] * span + gp["start"]
    j = np.searchsorted(starts, key, side="right") - 1
    jj = np.maximum(j, 0)
    held = (j >= 0) & (gp["gpu"][jj] == gpu) & (t < gp["end"][jj])
    pod = np.where(held, gp["pod"][jj], 0)
    n = len(t)
    rng = np.random.default_rng(seed)
    util = np.where(held, np.clip(np.rint(pods["util"][pod] + rng.normal(0, 8, n)), 0, 100), 0.0)
    is_a100 = nodes["type_idx"][life] == 0
    mem = np.where(is_a100, 81920.0, 24576.0)
    fb_used = np.where(held, np.rint(mem * (0.3 + 0.006 * util)), 0.0)
    ns_codes = pods["ns"][pod]
    idle = ~held
    uuid_codes = gpu  # one uuid per GPU of a lifetime
    uuids = np.array(
        [f"GPU-{ci:02x}{g:06x}-5b1e-4c2a-9d1f-{g:012x}" for g in range(int(nodes["gpu0"][-1]) + 8)]
    )
    return pa.table(
        {
            "ts": pa.array(t * 1000 + int(T0.timestamp() * 1e6), pa.timestamp("us", tz="UTC")),
            "node": _dict(life, nodes["name"]),
            "gpu_index": pa.array(gi.astype(np.int32)),
            "gpu_uuid": _dict(uuid_codes, uuids),
            "mig_instance_id": pa.array(np.full(n, -1, np.int32)),
            "mig_profile": pa.nulls(n, pa.string()),
            "model_name": _dict(
                is_a100.astype(np.int64), np.array(["NVIDIA A10G", "NVIDIA A100-SXM4-80GB"])
            ),
            "namespace": _dict(ns_codes, np.array(NAMESPACES), idle),
            "pod": _dict(pod, pods["name"], idle),
            "container": _dict(np.zeros(n, np.int64), np.array(["main"]), idle),
            "util_pct": util,
            "fb_used_mib": fb_used,
            "fb_free_mib": mem - fb_used,
            "power_w": np.rint(np.where(is_a100, 60.0, 25.0) + util * np.where(is_a100, 3.4, 2.0)),
            "temp_c": np.rint(32.0 + util * 0.4),
            "engine_active_ratio": np.round(util / 100.0 * 0.9, 3),
            "sample_ms": pa.array(np.full(n, plan.step_ms, np.int32)),
        },
        schema=SAMPLE_SCHEMA,
    )


_PLAN: Plan | None = None


def _write_day(args: tuple[Path, int, int, int]) -> int:
    root, ci, day, chunk_hours = args
    plan = _PLAN
    assert plan is not None
    date = (T0 + timedelta(days=day)).strftime("%Y-%m-%d")
    folder = root / "gpu_samples" / f"cluster={plan.clusters[ci]}" / f"date={date}"
    folder.mkdir(parents=True, exist_ok=True)
    rows = 0
    with pq.ParquetWriter(folder / "part-0.parquet", SAMPLE_SCHEMA, compression="zstd") as writer:
        for c0 in range(day * DAY_MS, (day + 1) * DAY_MS, chunk_hours * HOUR_MS):
            chunk = sample_chunk(
                plan, ci, c0, c0 + chunk_hours * HOUR_MS, seed=ci * 1_000_003 + c0 // HOUR_MS
            )
            writer.write_table(chunk, row_group_size=len(chunk) + 1)
            rows += len(chunk)
    return rows


def write_fleet(
    plan: Plan, root: Path, *, workers: int = 2, chunk_hours: int = 6
) -> dict[str, int]:
    """Write every table of the plan under root; returns rows per table."""
    global _PLAN
    root.mkdir(parents=True, exist_ok=True)
    counts: dict[str, int] = {}
    for table, parts in small_tables(plan).items():
        counts[table] = 0
        for cluster, data in parts:
            folder = root / table / (f"cluster={cluster}" if cluster else "")
            folder.mkdir(parents=True, exist_ok=True)
            pq.write_table(data, folder / "part-0.parquet", compression="zstd")
            counts[table] += data.num_rows
    _PLAN = plan
    jobs = [
        (root, ci, d, chunk_hours) for d in range(plan.days) for ci in range(len(plan.clusters))
    ]
    with ProcessPoolExecutor(max_workers=workers, mp_context=mp.get_context("fork")) as pool:
        counts["gpu_samples"] = sum(pool.map(_write_day, jobs))
    folders = {"gpu_samples": ["cluster", "date"], "prices": []}
    manifest = {
        "format": 1,
        "tables": {
            t: {
                "folders": folders.get(t, ["cluster"]),
                "date_of": "ts" if t == "gpu_samples" else None,
            }
            for t in counts
        },
    }
    (root / "_costlab_layout.json").write_text(json.dumps(manifest, indent=2, sort_keys=True))
    return counts
