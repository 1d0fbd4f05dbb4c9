"""Time to first chart of the dashboard in headless Chromium (a script; pytest skips bench/).

    uv run python bench/bench_dashboard.py --days 30   # builds /tmp/costlab-bench-30d.duckdb once
    uv run python bench/bench_dashboard.py --db FILE --runs 3

Starts `costlab --db FILE dashboard` on a free port, loads each page in a fresh headless Chromium
(DevTools protocol, see tests/dashboard/browser.py) and prints seconds to the first plotly chart
with data (cold = first load after start, warm = cache filled) and to an idle page. Target: warm
overview < 3 s on 2 cores with a 30-day demo database. Quote the machine and data size with results.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.dashboard.browser import Chromium  # noqa: E402
from tests.dashboard.server import dashboard_server  # noqa: E402

PAGES = ["", "tenants", "gpus", "tokens"]


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--db", type=Path, help="existing demo database (default: build one)")
    ap.add_argument(
        "--days", type=int, default=30, help="days of demo data to build when --db is not given"
    )
    ap.add_argument("--runs", type=int, default=3, help="warm loads per page")
    args = ap.parse_args()
    db = args.db or Path(f"/tmp/costlab-bench-{args.days}d.duckdb")
    if not db.exists():
        print(f"building {args.days}-day demo database {db} ...", flush=True)
        subprocess.run(
            [
                sys.executable,
                "-m",
                "costlab.cli",
                "--db",
                str(db),
                "demo",
                "--days",
                str(args.days),
            ],
            check=True,
            cwd=REPO,
            stdout=subprocess.DEVNULL,
        )
    print(f"db {db} ({db.stat().st_size / 1e6:,.0f} MB), cpus {os.cpu_count()}")
    with dashboard_server(db) as url, Chromium(height=1200) as browser:
        for page in PAGES:
            cold = browser.load(f"{url}/{page}", timeout=180)
            warm = [browser.load(f"{url}/{page}", timeout=180) for _ in range(args.runs)]
            first = [
                w["seconds_to_first_chart"] for w in warm if w["seconds_to_first_chart"] is not None
            ]
            label = page or "overview"
            cold_first = cold["seconds_to_first_chart"] or float("nan")
            warm_first = statistics.median(first) if first else float("nan")
            warm_idle = statistics.median(w["seconds_to_idle"] for w in warm)
            print(
                f"{label:10s} cold first chart {cold_first:6.2f}s  "
                f"warm first chart median {warm_first:6.2f}s  "
                f"warm idle median {warm_idle:6.2f}s  "
                f"charts {warm[-1]['plots_with_data']}/{warm[-1]['plots']}",
                flush=True,
            )


if __name__ == "__main__":
    main()
