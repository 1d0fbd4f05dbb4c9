"""Benchmark: the same allocation on DuckDB and on Spark over a synthetic Parquet fleet.

    uv run python bench/bench_scale.py --gpus 1024 --days 30 --step-s 15 --root /data/fleet   # issue target
    uv run python bench/bench_scale.py --gpus 64 --days 4 --step-s 60 --windows 1,2,4        # a few minutes

The generator writes the Parquet layout of costlab/scale/parquet_layout directly, one
(cluster, day) chunk of DCGM samples at a time, so memory is bounded by one chunk whatever the
days and GPUs. Fleet: p4d-like nodes of 8 GPUs in 4 clusters; each node runs three pods a day
(4, 2 and 1 GPUs, one of them stopping mid-day) and keeps one GPU idle; 4 teams. Each engine then
allocates the first N days for every N in --windows; the table gives seconds and DCGM samples per
second. DuckDB runs in-process on the Parquet (attach_parquet), Spark in --spark-master (default
local[2]); Spark's session start is reported apart. Seeded: the same arguments give the same data.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from costlab import store  # noqa: E402
from costlab.allocate.gpu import allocate_window  # noqa: E402
from costlab.scale import parquet_layout as layout  # noqa: E402
from costlab.timeutil import Window  # noqa: E402

T0 = datetime(2026, 1, 1, tzinfo=UTC)
CLUSTERS = 4
GPUS_PER_NODE = 8
PODS = ((0, 4), (4, 2), (6, 1))  # (first GPU slot, GPUs): slot 7 stays idle
TEAMS = ("search", "ads", "vision", "speech")
PRICE_MICROS = 32_772_600  # p4d.24xlarge on-demand, us-east-1, per hour


def _nodes(gpus: int) -> list[tuple[str, str]]:
    nodes = [(f"c{i % CLUSTERS}", f"node-{i:05d}") for i in range(max(1, gpus // GPUS_PER_NODE))]
    return sorted(nodes)


def _team(node: str) -> str:
    return TEAMS[int(node.rsplit("-", 1)[1]) % len(TEAMS)]


def _pod(node: str, day: int, k: int) -> str:
    return f"{node}-d{day}-p{k}"


def _pod_end_s(day: int, k: int, rng: np.random.Generator) -> int:
    """Seconds into the day the pod stops: pod 1 stops between 06:00 and 18:00, others run all day."""
    return int(rng.integers(6 * 3600, 18 * 3600)) if k == 1 else 86400


def generate(root: Path, gpus: int, days: int, step_s: int, seed: int = 42) -> int:
    """Write the fleet's raw tables under root; returns the number of DCGM samples written."""
    rng = np.random.default_rng(seed)
    if root.exists():
        shutil.rmtree(root)
    seeded = store.connect(":memory:")
    layout.export_parquet(seeded, root)  # every table, empty, plus the seeds (fractions, throughput)
    seeded.close()
    nodes = _nodes(gpus)
    end = T0 + timedelta(days=days)
    node_rows = [{"cluster": c, "node": n, "start_ts": T0, "end_ts": end, "end_reason": "deleted", "nodepool": "train",
                  "instance_type": "p4d.24xlarge", "capacity_type": "on-demand", "region": "us-east-1", "zone": "us-east-1a",
                  "gpu_count": GPUS_PER_NODE, "gpu_model": "A100", "gpu_memory_mib": 40960} for c, n in nodes]
    price_rows = [{"instance_type": "p4d.24xlarge", "region": "us-east-1", "zone": "", "capacity_type": "on-demand",
                   "source": "pricing-api", "effective_from": T0 - timedelta(days=1), "usd_micros_per_hour": PRICE_MICROS}]
    pod_rows, label_rows, ends = [], [], {}
    for day in range(days):
        for c, n in nodes:
            team = _team(n)
            for k, (_, qty) in enumerate(PODS):
                end_s = _pod_end_s(day, k, rng)
                ends[(n, day, k)] = end_s
                start = T0 + timedelta(days=day)
                pod_rows.append({"cluster": c, "namespace": team, "pod": _pod(n, day, k), "container": "main",
                                 "gpu_resource": "nvidia.com/gpu", "start_ts": start, "end_ts": start + timedelta(seconds=end_s),
                                 "node": n, "quantity": float(qty)})
                label_rows.append({"cluster": c, "namespace": team, "pod": _pod(n, day, k), "key": "team", "value": team})
    for table, rows in (("nodes", node_rows), ("prices", price_rows), ("pod_gpu_requests", pod_rows), ("pod_labels", label_rows)):
        layout.write_table([pa.RecordBatch.from_pylist(rows, schema=layout.arrow_schema(table))], root, table)
    samples = 0
    steps = 86400 // step_s
    offsets = np.arange(steps, dtype=np.int64) * step_s * 1_000_000
    for day in range(days):
        base_us = int((T0 + timedelta(days=day)).timestamp() * 1_000_000)
        for cluster in sorted({c for c, _ in nodes}):
            here = [n for c, n in nodes if c == cluster]
            batch = _sample_chunk(cluster, here, day, base_us + offsets, step_s, ends, rng)
            samples += layout.write_table([batch], root, "gpu_samples", replace=False, tag=f"d{day:03d}-{cluster}")
    layout.record_tables(root, layout.catalogue())
    return samples


def _sample_chunk(cluster, nodes, day, ts_us, step_s, ends, rng) -> pa.RecordBatch:
    """One cluster-day of DCGM samples: (steps x GPUs) rows, pod columns NULL where no pod runs."""
    steps, n_gpu = len(ts_us), len(nodes) * GPUS_PER_NODE
    ts = np.tile(ts_us, n_gpu)
    gpu = np.repeat(np.arange(n_gpu), steps)
    node_idx, slot = gpu // GPUS_PER_NODE, gpu % GPUS_PER_NODE
    second = np.tile(np.arange(steps) * step_s, n_gpu)
    pod_k = np.full(len(ts), -1)
    for k, (first, qty) in enumerate(PODS):
        pod_k[(slot >= first) & (slot < first + qty)] = k
    end_s = np.array([[ends[(n, day, k)] for k in range(len(PODS))] for n in nodes])
    running = (pod_k >= 0) & (second < end_s[node_idx, np.maximum(pod_k, 0)])
    names = [_pod(n, day, k) for n in nodes for k in range(len(PODS))]
    pod_code = np.where(running, node_idx * len(PODS) + np.maximum(pod_k, 0), -1)
    teams = pa.array([_team(n) for n in nodes])
    idle = pa.array(~running)
    return pa.RecordBatch.from_pydict({
        "ts": pa.array(ts, pa.timestamp("us", tz="UTC")),
        "cluster": pa.array(np.full(len(ts), cluster)),
        "node": pa.array(nodes).take(pa.array(node_idx)),
        "gpu_index": pa.array(slot.astype(np.int32)),
        "gpu_uuid": pa.array(np.char.add(f"GPU-{cluster}-", gpu.astype(str))).cast(pa.string()),
        "mig_instance_id": pa.array(np.full(len(ts), -1, dtype=np.int32)),
        "model_name": pa.array(np.full(len(ts), "NVIDIA A100-SXM4-40GB")),
        "namespace": _masked(teams.take(pa.array(node_idx)), idle),
        "pod": _masked(pa.array(names).take(pa.array(np.maximum(pod_code, 0))), idle),
        "util_pct": _masked(pa.array(rng.uniform(20, 100, len(ts))), idle),
    })


def _masked(values: pa.Array, mask: pa.Array) -> pa.Array:
    return pc.if_else(mask, pa.scalar(None, values.type), values)


def bench_duckdb(root: Path, window: Window) -> tuple[float, int]:
    began = time.monotonic()
    conn = store.connect(":memory:")
    layout.attach_parquet(conn, root)
    run = allocate_window(conn, window, window.end)
    conn.close()
    return time.monotonic() - began, run.rows


def bench_spark(spark, root: Path, out: Path, window: Window) -> tuple[float, int]:
    from costlab.scale.spark_engine import allocate_window_spark

    began = time.monotonic()
    run = allocate_window_spark(spark, root, out, window, window.end)
    return time.monotonic() - began, run.rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gpus", type=int, default=64)
    parser.add_argument("--days", type=int, default=4)
    parser.add_argument("--step-s", type=int, default=60, help="DCGM scrape interval (the issue's target: 15)")
    parser.add_argument("--windows", default="1,2,4", help="days to allocate, comma-separated (each <= --days)")
    parser.add_argument("--root", type=Path, default=Path("/tmp/costlab-bench-fleet"))
    parser.add_argument("--engines", default="duckdb,spark")
    parser.add_argument("--spark-master", default="local[2]")
    parser.add_argument("--skip-generate", action="store_true", help="reuse the fleet already at --root")
    args = parser.parse_args()
    windows = [int(w) for w in args.windows.split(",")]
    if max(windows) > args.days:
        parser.error("--windows must not exceed --days")
    if not args.skip_generate:
        began = time.monotonic()
        samples = generate(args.root, args.gpus, args.days, args.step_s)
        size = sum(p.stat().st_size for p in args.root.rglob("*.parquet"))
        print(f"generated {samples:,} DCGM samples ({size / 2**20:.1f} MiB Parquet) in {time.monotonic() - began:.1f} s")
    per_day = args.gpus // GPUS_PER_NODE * GPUS_PER_NODE * (86400 // args.step_s)
    spark = None
    if "spark" in args.engines:
        from costlab.scale.spark_engine import spark_session

        began = time.monotonic()
        spark = spark_session(args.spark_master, app_name="costlab-bench")
        print(f"spark session ({args.spark_master}) started in {time.monotonic() - began:.1f} s")
    print(f"{'engine':<8} {'days':>5} {'samples':>12} {'alloc rows':>11} {'seconds':>9} {'samples/s':>12}")
    for days in windows:
        window = Window(T0, T0 + timedelta(days=days))
        for engine in args.engines.split(","):
            if engine == "duckdb":
                seconds, rows = bench_duckdb(args.root, window)
            else:
                seconds, rows = bench_spark(spark, args.root, args.root.parent / "costlab-bench-out", window)
            samples = per_day * days
            print(f"{engine:<8} {days:>5} {samples:>12,} {rows:>11,} {seconds:>9.1f} {samples / seconds:>12,.0f}", flush=True)
    if spark is not None:
        spark.stop()


if __name__ == "__main__":
    main()
