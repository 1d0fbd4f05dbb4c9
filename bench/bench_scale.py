"""Benchmark: the same allocation on DuckDB and on Spark over a synthetic Parquet fleet.

    # issue 8's data set (1,024 GPUs x 30 days at 15 s, 177 M samples) and scaling curve
    uv run python bench/bench_scale.py --gpus 1024 --days 30 --step-s 15 --root /tmp/bench-scale \
        --windows 1,3,7,15,30 --results bench/results/scale-1024g-30d
    uv run python bench/bench_scale.py --gpus 64 --days 4 --step-s 60 --windows 1,2,4   # minutes

The generator writes the Parquet layout of costlab/scale/parquet_layout directly, one
(cluster, day) chunk of DCGM samples at a time, so memory is bounded by one chunk whatever the
days and GPUs; `_bench_fleet.json` at the root records the arguments, rows and bytes, and a later
run with the same arguments reuses the data (--regenerate to force). Fleet: p4d-like nodes of 8
GPUs in 4 clusters; each node runs three pods a day (4, 2 and 1 GPUs, one of them stopping
mid-day) and keeps one GPU idle; 4 teams. Each engine then allocates the first N days for every N
in --windows (--spark-windows for Spark); --budget-s skips windows projected to overrun a time
budget. Per run: wall and CPU seconds, DCGM samples per second and per CPU-second, peak RSS
(DuckDB: this process; Spark: the JVM of the driver and local executors) and the 1-minute load
average; then a least-squares fit of seconds against days per engine. DuckDB runs in-process on
the Parquet (attach_parquet), Spark in --spark-master (default local[2]); Spark's session start is
reported apart. Seeded: the same arguments give the same data.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import resource
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
    layout.export_parquet(
        seeded, root
    )  # every table, empty, plus the seeds (fractions, throughput)
    seeded.close()
    nodes = _nodes(gpus)
    end = T0 + timedelta(days=days)
    node_rows = [
        {
            "cluster": c,
            "node": n,
            "start_ts": T0,
            "end_ts": end,
            "end_reason": "deleted",
            "nodepool": "train",
            "instance_type": "p4d.24xlarge",
            "capacity_type": "on-demand",
            "region": "us-east-1",
            "zone": "us-east-1a",
            "gpu_count": GPUS_PER_NODE,
            "gpu_model": "A100",
            "gpu_memory_mib": 40960,
        }
        for c, n in nodes
    ]
    price_rows = [
        {
            "instance_type": "p4d.24xlarge",
            "region": "us-east-1",
            "zone": "",
            "capacity_type": "on-demand",
            "source": "pricing-api",
            "effective_from": T0 - timedelta(days=1),
            "usd_micros_per_hour": PRICE_MICROS,
        }
    ]
    pod_rows, label_rows, ends = [], [], {}
    for day in range(days):
        for c, n in nodes:
            team = _team(n)
            for k, (_, qty) in enumerate(PODS):
                end_s = _pod_end_s(day, k, rng)
                ends[(n, day, k)] = end_s
                start = T0 + timedelta(days=day)
                pod_rows.append(
                    {
                        "cluster": c,
                        "namespace": team,
                        "pod": _pod(n, day, k),
                        "container": "main",
                        "gpu_resource": "nvidia.com/gpu",
                        "start_ts": start,
                        "end_ts": start + timedelta(seconds=end_s),
                        "node": n,
                        "quantity": float(qty),
                    }
                )
                label_rows.append(
                    {
                        "cluster": c,
                        "namespace": team,
                        "pod": _pod(n, day, k),
                        "key": "team",
                        "value": team,
                    }
                )
    for table, rows in (
        ("nodes", node_rows),
        ("prices", price_rows),
        ("pod_gpu_requests", pod_rows),
        ("pod_labels", label_rows),
    ):
        layout.write_table(
            [pa.RecordBatch.from_pylist(rows, schema=layout.arrow_schema(table))], root, table
        )
    samples = 0
    steps = 86400 // step_s
    offsets = np.arange(steps, dtype=np.int64) * step_s * 1_000_000
    for day in range(days):
        base_us = int((T0 + timedelta(days=day)).timestamp() * 1_000_000)
        for cluster in sorted({c for c, _ in nodes}):
            here = [n for c, n in nodes if c == cluster]
            batch = _sample_chunk(cluster, here, day, base_us + offsets, step_s, ends, rng)
            samples += layout.write_table(
                [batch], root, "gpu_samples", replace=False, tag=f"d{day:03d}-{cluster}"
            )
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
    return pa.RecordBatch.from_pydict(
        {
            "ts": pa.array(ts, pa.timestamp("us", tz="UTC")),
            "cluster": pa.repeat(pa.scalar(cluster), len(ts)),
            "node": pa.array(nodes).take(pa.array(node_idx)),
            "gpu_index": pa.array(slot.astype(np.int32)),
            "gpu_uuid": pa.array([f"GPU-{cluster}-{i}" for i in range(n_gpu)]).take(pa.array(gpu)),
            "mig_instance_id": pa.array(np.full(len(ts), -1, dtype=np.int32)),
            "model_name": pa.repeat(pa.scalar("NVIDIA A100-SXM4-40GB"), len(ts)),
            "namespace": _masked(teams.take(pa.array(node_idx)), idle),
            "pod": _masked(pa.array(names).take(pa.array(np.maximum(pod_code, 0))), idle),
            "util_pct": _masked(pa.array(rng.uniform(20, 100, len(ts))), idle),
        }
    )


def _masked(values: pa.Array, mask: pa.Array) -> pa.Array:
    return pc.if_else(mask, pa.scalar(None, values.type), values)


FLEET_MANIFEST = "_bench_fleet.json"


def ensure_fleet(root: Path, gpus: int, days: int, step_s: int, seed: int, force: bool) -> dict:
    """The fleet at root, generated unless a fleet of the same arguments is already there."""
    wanted = {"gpus": gpus, "days": days, "step_s": step_s, "seed": seed}
    manifest = root / FLEET_MANIFEST
    if not force and manifest.is_file():
        known = json.loads(manifest.read_text())
        if {k: known.get(k) for k in wanted} == wanted:
            print(f"reusing the fleet at {root} (generated in {known['generate_s']:.0f} s)")
            return known
    began = time.monotonic()
    samples = generate(root, gpus, days, step_s, seed)
    seconds = time.monotonic() - began
    sample_bytes = sum(p.stat().st_size for p in (root / "gpu_samples").rglob("*.parquet"))
    total_bytes = sum(p.stat().st_size for p in root.rglob("*.parquet"))
    info = {
        **wanted,
        "samples": samples,
        "gpu_samples_bytes": sample_bytes,
        "parquet_bytes": total_bytes,
        "bytes_per_sample": sample_bytes / max(samples, 1),
        "gpu_samples_files": sum(1 for _ in (root / "gpu_samples").rglob("*.parquet")),
        "generate_s": seconds,
    }
    manifest.write_text(json.dumps(info, indent=2))
    print(
        f"generated {samples:,} DCGM samples ({sample_bytes / 2**20:.1f} MiB Parquet, "
        f"{info['bytes_per_sample']:.2f} B/sample) in {seconds:.1f} s"
    )
    return info


def _jvm_stats(pid: int) -> tuple[float, int]:
    """(CPU seconds, peak RSS bytes) of a process so far, from /proc."""
    stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    cpu = (int(stat[11]) + int(stat[12])) / os.sysconf("SC_CLK_TCK")
    status = Path(f"/proc/{pid}/status").read_text()
    hwm = next(line for line in status.splitlines() if line.startswith("VmHWM:"))
    return cpu, int(hwm.split()[1]) * 1024


def bench_duckdb(root: Path, window: Window) -> dict:
    """One allocation on in-process DuckDB over the Parquet; peak RSS is the process's so far."""
    began, cpu = time.monotonic(), time.process_time()
    conn = store.connect(":memory:")
    layout.attach_parquet(conn, root)
    run = allocate_window(conn, window, window.end)
    conn.close()
    return {
        "seconds": time.monotonic() - began,
        "cpu_s": time.process_time() - cpu,
        "rows": run.rows,
        "cost_usd_micros": run.allocated_usd_micros,
        "peak_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
    }


def bench_spark(spark, jvm_pid: int, root: Path, out: Path, window: Window) -> dict:
    """One allocation on Spark; CPU = the JVM's (driver and local executors) plus this process's."""
    from costlab.scale.spark_engine import allocate_window_spark

    jvm_cpu, _ = _jvm_stats(jvm_pid)
    began, cpu = time.monotonic(), time.process_time()
    run = allocate_window_spark(spark, root, out, window, window.end)
    seconds = time.monotonic() - began
    jvm_cpu_after, jvm_hwm = _jvm_stats(jvm_pid)
    return {
        "seconds": seconds,
        "cpu_s": jvm_cpu_after - jvm_cpu + time.process_time() - cpu,
        "rows": run.rows,
        "cost_usd_micros": run.allocated_usd_micros,
        "peak_rss_bytes": jvm_hwm,
    }


def fit_line(points: list[tuple[float, float]]) -> dict | None:
    """Least-squares y = fixed + per_day x days, with R^2; None below two distinct days."""
    if len({x for x, _ in points}) < 2:
        return None
    xs, ys = np.array([x for x, _ in points]), np.array([y for _, y in points])
    slope, intercept = np.polyfit(xs, ys, 1)
    residual = ys - (intercept + slope * xs)
    r2 = 1 - float(residual @ residual) / float(((ys - ys.mean()) ** 2).sum() or 1.0)
    return {"fixed_s": float(intercept), "per_day_s": float(slope), "r2": r2}


def fits(runs: list[dict]) -> dict:
    """Per engine, the line through wall seconds and through CPU seconds against days."""
    out = {}
    for engine in dict.fromkeys(r["engine"] for r in runs):
        mine = [r for r in runs if r["engine"] == engine]
        out[engine] = {
            "wall": fit_line([(r["days"], r["seconds"]) for r in mine]),
            "cpu": fit_line([(r["days"], r["cpu_s"]) for r in mine]),
        }
    return out


def _fit_lines(result: dict) -> list[str]:
    lines = []
    for engine, by in result["fits"].items():
        for what, fit in by.items():
            if fit:
                lines.append(
                    f"{engine} {what} seconds = {fit['fixed_s']:.1f} + {fit['per_day_s']:.2f} x days "
                    f"(R^2 {fit['r2']:.4f})"
                )
    return lines


def _row_text(r: dict) -> str:
    return (
        f"{r['engine']:<7} {r['days']:>4} {r['samples']:>12,} {r['rows']:>10,} {r['seconds']:>8.1f} "
        f"{r['cpu_s']:>8.1f} {r['samples_per_s']:>11,.0f} {r['samples_per_cpu_s']:>11,.0f} "
        f"{r['peak_rss_bytes'] / 2**30:>6.2f} {r['load_1m']:>5.1f}"
    )


HEADER = (
    f"{'engine':<7} {'days':>4} {'samples':>12} {'alloc rows':>10} {'wall s':>8} {'CPU s':>8} "
    f"{'samples/s':>11} {'/CPU-s':>11} {'RSS GiB':>6} {'load':>5}"
)


def write_results(path: Path, result: dict) -> None:
    """result as JSON at path.json and a markdown table at path.md."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.with_suffix(".json").write_text(json.dumps(result, indent=2, default=str))
    fleet = result["fleet"]
    lines = [
        f"# bench_scale: {fleet['gpus']} GPUs x {fleet['days']} days at {fleet['step_s']} s",
        "",
        f"Command: `{result['command']}`  ",
        f"Machine: {result['machine']}  ",
        f"Data: {fleet['samples']:,} gpu_samples rows, {fleet['gpu_samples_bytes'] / 2**20:,.1f} MiB "
        f"zstd Parquet ({fleet['bytes_per_sample']:.2f} B/row) in {fleet['gpu_samples_files']} files; "
        f"generated in {fleet['generate_s']:.0f} s.  ",
    ]
    if result.get("spark_start_s") is not None:
        lines.append(
            f"Spark session ({result['spark_master']}) start: {result['spark_start_s']:.1f} s (not in the rows).  "
        )
    lines += [
        "",
        "| engine | days | samples | alloc rows | wall s | CPU s | samples/s | samples/CPU-s | peak RSS GiB | load 1m |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in result["runs"]:
        lines.append(
            f"| {r['engine']} | {r['days']} | {r['samples']:,} | {r['rows']:,} | {r['seconds']:.1f} | "
            f"{r['cpu_s']:.1f} | {r['samples_per_s']:,.0f} | {r['samples_per_cpu_s']:,.0f} | "
            f"{r['peak_rss_bytes'] / 2**30:.2f} | {r['load_1m']:.1f} |"
        )
    for s in result["skipped"]:
        lines.append(f"| {s['engine']} | {s['days']} | not run: {s['reason']} | | | | | | | |")
    lines += ["", "Least-squares fits against days:", ""] + [f"- {x}" for x in _fit_lines(result)]
    path.with_suffix(".md").write_text("\n".join(lines) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gpus", type=int, default=64)
    parser.add_argument("--days", type=int, default=4)
    parser.add_argument(
        "--step-s", type=int, default=60, help="DCGM scrape interval (the issue's: 15)"
    )
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--windows", default="1,2,4", help="days to allocate, comma-separated")
    parser.add_argument("--spark-windows", help="days to allocate on Spark (default: --windows)")
    parser.add_argument("--root", type=Path, default=Path("/tmp/costlab-bench-fleet"))
    parser.add_argument("--out", type=Path, help="Spark's results (default: <root>-out)")
    parser.add_argument("--engines", default="duckdb,spark")
    parser.add_argument("--spark-master", default="local[2]")
    parser.add_argument(
        "--spark-conf", action="append", default=[], metavar="KEY=VALUE", help="repeatable"
    )
    parser.add_argument("--regenerate", action="store_true", help="even if --root holds this fleet")
    parser.add_argument(
        "--budget-s",
        type=float,
        help="per engine: skip a window whose time, projected in proportion to days from the "
        "last one measured, would overrun what is left of this many seconds",
    )
    parser.add_argument("--results", type=Path, help="write <path>.json and <path>.md")
    parser.add_argument(
        "--render", type=Path, metavar="PATH.json", help="only rewrite PATH.md (fits redone)"
    )
    args = parser.parse_args()
    if args.render:
        result = json.loads(args.render.read_text())
        result["fits"] = fits(result["runs"])
        write_results(args.render.with_suffix(""), result)
        return
    # the Spark runner logs each stage's seconds at INFO
    logging.basicConfig(format="  %(name)s: %(message)s")
    logging.getLogger("costlab.scale.spark_engine").setLevel(logging.INFO)
    windows = sorted(int(w) for w in args.windows.split(","))
    spark_windows = sorted(int(w) for w in (args.spark_windows or args.windows).split(","))
    if max(windows + spark_windows) > args.days:
        parser.error("windows must not exceed --days")
    engines = args.engines.split(",")
    fleet = ensure_fleet(args.root, args.gpus, args.days, args.step_s, args.seed, args.regenerate)
    per_day = fleet["samples"] // fleet["days"]
    result = {
        "command": "uv run python bench/bench_scale.py " + " ".join(sys.argv[1:]),
        "machine": f"{os.cpu_count()} cores, {os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / 2**30:.0f} GiB, {platform.platform()}",
        "fleet": fleet,
        "spark_master": args.spark_master,
        "spark_start_s": None,
        "runs": [],
        "skipped": [],
    }
    print(HEADER, flush=True)
    for engine in engines:
        spark = jvm_pid = None
        if engine == "spark":
            from costlab.scale.spark_engine import spark_session

            conf = dict(kv.split("=", 1) for kv in args.spark_conf)
            began = time.monotonic()
            spark = spark_session(args.spark_master, app_name="costlab-bench", conf=conf)
            result["spark_start_s"] = time.monotonic() - began
            jvm_pid = int(spark.sparkContext._jvm.java.lang.ProcessHandle.current().pid())
            print(f"spark session ({args.spark_master}) started in {result['spark_start_s']:.1f} s")
        began_engine, last = time.monotonic(), None
        for days in spark_windows if engine == "spark" else windows:
            if args.budget_s is not None and last is not None:
                projected = last["seconds"] * days / last["days"]
                left = args.budget_s - (time.monotonic() - began_engine)
                if projected > left:
                    reason = f"projected {projected:.0f} s > {left:.0f} s left of the budget"
                    result["skipped"].append({"engine": engine, "days": days, "reason": reason})
                    print(f"{engine:<7} {days:>4} not run: {reason}", flush=True)
                    continue
            window = Window(T0, T0 + timedelta(days=days))
            if engine == "duckdb":
                run = bench_duckdb(args.root, window)
            else:
                out = args.out or args.root.with_name(args.root.name + "-out")
                run = bench_spark(spark, jvm_pid, args.root, out, window)
            samples = per_day * days
            last = {
                "engine": engine,
                "days": days,
                "samples": samples,
                **run,
                "samples_per_s": samples / run["seconds"],
                "samples_per_cpu_s": samples / max(run["cpu_s"], 1e-9),
                "load_1m": os.getloadavg()[0],
            }
            result["runs"].append(last)
            print(_row_text(last), flush=True)
        if spark is not None:
            spark.stop()
    result["fits"] = fits(result["runs"])
    print("\n".join(_fit_lines(result)))
    if args.results:
        write_results(args.results, result)
        print(f"results in {args.results.with_suffix('.json')} and .md")


if __name__ == "__main__":
    main()
