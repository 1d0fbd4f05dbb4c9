"""Time `costlab demo` end to end (generate, load, allocate) for N days; prints rows/s.

Usage: uv run python bench/bench_demo.py [--days 7] [--seed 42]
Target (issue 2): 7 days in under 2 minutes on 2 cores.
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
from pathlib import Path

from costlab import store
from costlab.allocate.gpu import allocate_window
from costlab.demo.run import load_demo


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--days", type=int, default=7)
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "bench.duckdb"
        t0 = time.perf_counter()
        conn = store.connect(db)
        window = load_demo(conn, args.days, args.seed)
        t1 = time.perf_counter()
        allocate_window(conn, window, window.end)
        t2 = time.perf_counter()
        samples = conn.execute("SELECT count(*) FROM gpu_samples").fetchone()[0]
        obs = conn.execute("SELECT count(*) FROM llm_observations").fetchone()[0]
        conn.close()
    total = t2 - t0
    print(
        f"machine: {platform.machine()} {os.cpu_count()} cores, python {platform.python_version()}"
    )
    print(
        f"demo {args.days} days: generate+load {t1 - t0:.1f} s, allocate {t2 - t1:.1f} s, total {total:.1f} s"
    )
    print(
        f"  {samples:,} GPU samples, {obs:,} LangFuse observations, {(samples + obs) / (t1 - t0):,.0f} rows/s loaded"
    )
    print(f"  target: 7 days < 120 s -> {'OK' if args.days != 7 or total < 120 else 'MISSED'}")


if __name__ == "__main__":
    main()
