"""Benchmark: the Prometheus collector vs plain HTTP range queries of the same series.

Builds a synthetic DCGM TSDB (GPUs x 6 metrics x hours at 15 s) with promtool, serves it with
/usr/bin/prometheus on 127.0.0.1, then times
  plain:     the same chunked `last_over_time` range queries with requests + resp.json(), no load;
  collector: costlab.collect.prometheus.collect() for the DCGM group into a fresh DuckDB file
             (`--concurrency` chunks fetched at once, default the setting's default),
and prints both wall times, this process's CPU time per phase, and the ratio (target <= 1.3).

    uv run python bench/bench_prometheus_collector.py --gpus 50 --hours 24       # ~1.7M samples
    uv run python bench/bench_prometheus_collector.py --gpus 1000 --hours 36     # ~52M samples

Add `--data-dir DIR` to keep the built TSDB and reuse it. Not collected by pytest. Quote results
with the machine and the sample count; recorded results are in bench/README-prometheus.md.
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import requests

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests" / "collect"))

from prom_server import PromServer, build_blocks  # noqa: E402

from costlab import store  # noqa: E402
from costlab.collect import series  # noqa: E402
from costlab.collect.prometheus import DCGM, PrometheusSettings, collect, plan_chunks  # noqa: E402
from costlab.timeutil import Window  # noqa: E402

T0 = datetime(2026, 10, 1, tzinfo=UTC)
STEP = timedelta(seconds=15)


BLOCK = timedelta(hours=2)


def _write_window(path: Path, gpus: int, idx: range) -> int:
    t0 = T0.timestamp()
    with path.open("w") as f:
        for metric in series.DCGM_FIELDS:
            f.write(f"# TYPE {metric} gauge\n")
            for g in range(gpus):
                lab = (
                    f'Hostname="node-{g // 8}",UUID="GPU-{g:05d}",gpu="{g % 8}",'
                    'modelName="NVIDIA H100"'
                )
                prefix = f"{metric}{{{lab}}} "
                f.writelines(f"{prefix}{(i * 7 + g) % 100} {t0 + 15 * i:.0f}\n" for i in idx)
        f.write("# EOF\n")
    return len(idx) * gpus * len(series.DCGM_FIELDS)


def build_fleet(root: Path, data: Path, gpus: int, hours: float, jobs: int) -> int:
    """Write one OpenMetrics file per 2 h block window and convert each with promtool, `jobs`
    conversions at a time while the next file is written. promtool re-reads its whole input once
    per block window, so one big file costs O(size x windows); per-window files cost O(size)."""
    points = int(hours * 3600 / STEP.total_seconds())
    per_block = int(BLOCK / STEP)

    def convert(path: Path) -> None:
        build_blocks(path, data)
        path.unlink()

    n = 0
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        futures = []
        for first in range(0, points, per_block):
            # at most `jobs` files waiting on disk
            while sum(not f.done() for f in futures) >= jobs:
                time.sleep(0.2)
            path = root / f"fleet-{first:07d}.om"
            n += _write_window(path, gpus, range(first, min(points, first + per_block)))
            futures.append(pool.submit(convert, path))
        for f in futures:
            f.result()
    return n


def plain_fetch(url: str, window: Window, n_series_per_metric: int, max_samples: int) -> int:
    session = requests.Session()
    samples = 0
    for metric in series.DCGM_FIELDS:
        for chunk in plan_chunks(window, STEP, n_series_per_metric * 6, 11_000, max_samples):
            resp = session.post(
                f"{url}/api/v1/query_range",
                data={
                    "query": f"last_over_time({metric}[14999ms])",
                    "start": chunk.start.timestamp(),
                    "end": (chunk.end - STEP).timestamp(),
                    "step": 15,
                },
            )
            resp.raise_for_status()
            samples += sum(len(s["values"]) for s in resp.json()["data"]["result"])
    return samples


def _cpu_s() -> float:
    """CPU seconds (user + system) this process has used (Prometheus' own CPU is not counted)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _rss_mib() -> float:
    """Peak RSS of this process so far (Linux: ru_maxrss in KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--gpus", type=int, default=50)
    ap.add_argument("--hours", type=float, default=24)
    ap.add_argument("--max-samples", type=int, default=1_000_000, help="max_samples_per_query")
    ap.add_argument("--jobs", type=int, default=2, help="promtool conversions in parallel")
    ap.add_argument(
        "--concurrency",
        type=int,
        default=PrometheusSettings.model_fields["max_concurrency"].default,
        help="the collector's max_concurrency (chunks fetched at once)",
    )
    ap.add_argument(
        "--data-dir",
        type=Path,
        help="keep the built TSDB here and reuse it when it exists (same --gpus/--hours)",
    )
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        data = args.data_dir or root / "data"
        t = time.perf_counter()
        if data.exists() and any(data.iterdir()):
            print(f"reusing TSDB in {data}")
        else:
            n = build_fleet(root, data, args.gpus, args.hours, args.jobs)
            print(
                f"built {n:,} samples ({args.gpus} GPUs x 6 metrics x {args.hours} h) "
                f"in {time.perf_counter() - t:.1f}s"
            )
        window = Window(T0, T0 + timedelta(hours=args.hours))
        with PromServer(data) as server:
            plain_fetch(
                server.url, Window(T0, T0 + timedelta(hours=1)), args.gpus, args.max_samples
            )  # warm-up
            t, cpu = time.perf_counter(), _cpu_s()
            got = plain_fetch(server.url, window, args.gpus, args.max_samples)
            plain_s, plain_cpu = time.perf_counter() - t, _cpu_s() - cpu
            plain_rss = _rss_mib()
            conn = store.connect(root / "bench.duckdb")
            settings = PrometheusSettings(
                url=server.url,
                max_samples_per_query=args.max_samples,
                max_concurrency=args.concurrency,
            )
            t, cpu = time.perf_counter(), _cpu_s()
            report = collect(conn, window=window, settings=settings, groups=(DCGM,))
            coll_s, coll_cpu = time.perf_counter() - t, _cpu_s() - cpu
            rows = conn.execute("SELECT count(*) FROM gpu_samples").fetchone()[0]
            conn.close()
        print(
            f"plain HTTP range queries: {plain_s:8.2f}s  {got:,} samples  "
            f"{got / plain_s:,.0f} samples/s  (client CPU {plain_cpu:.1f}s, "
            f"peak RSS so far {plain_rss:,.0f} MiB)"
        )
        print(
            f"collector (fetch+load):   {coll_s:8.2f}s  {report.groups[0].samples:,} samples "
            f"-> {rows:,} rows in {report.groups[0].chunks} chunks"
            f"  {report.groups[0].samples / coll_s:,.0f} samples/s"
            f"  (client CPU {coll_cpu:.1f}s, concurrency {args.concurrency}, "
            f"peak RSS {_rss_mib():,.0f} MiB)"
        )
        print(f"ratio collector/plain: {coll_s / plain_s:.2f}x (target <= 1.30x)")


if __name__ == "__main__":
    main()
