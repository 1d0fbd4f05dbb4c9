"""Run the Prometheus collector in a child process (the kill-mid-range tests SIGKILL it).

Usage: python prom_run.py DB URL NOW_ISO INITIAL_LOOKBACK_S MAX_SAMPLES [CLUSTERS [CONCURRENCY]]
CLUSTERS is comma-separated (one shard per cluster); empty or absent: unsharded.
"""

from __future__ import annotations

import sys
from datetime import timedelta

from costlab import store
from costlab.collect.prometheus import PrometheusSettings, collect
from costlab.timeutil import parse_ts

if __name__ == "__main__":
    db, url, now, lookback, max_samples = sys.argv[1:6]
    clusters = [c for c in (sys.argv[6] if len(sys.argv) > 6 else "").split(",") if c]
    concurrency = int(sys.argv[7]) if len(sys.argv) > 7 else 2
    conn = store.connect(db)
    settings = PrometheusSettings(
        url=url,
        initial_lookback=timedelta(seconds=float(lookback)),
        max_samples_per_query=int(max_samples),
        clusters=clusters,
        max_concurrency=concurrency,
    )
    collect(conn, settings=settings, now=parse_ts(now))
    conn.close()
