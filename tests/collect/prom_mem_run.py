"""Run the DCGM group of the Prometheus collector in a child process and report its memory.

Usage: python prom_mem_run.py DB URL START_ISO END_ISO MAX_SAMPLES CONCURRENCY
Prints one JSON line: peak RSS (MiB, ru_maxrss), chunks, samples, and the most chunk frames alive
at once (tracked with weak references: a loader that kept old chunks would raise it).
"""

from __future__ import annotations

import gc
import json
import resource
import sys
import weakref

from costlab import store
from costlab.collect.prometheus import collector as prometheus
from costlab.collect.prometheus import run as prom_run
from costlab.timeutil import Window, parse_ts

if __name__ == "__main__":
    db, url, start, end, max_samples, concurrency = sys.argv[1:7]
    refs: list[weakref.ref] = []
    most_alive = 0
    fetch = prom_run.fetch_chunk

    def tracked(*args, **kwargs):
        global most_alive
        out = fetch(*args, **kwargs)
        gc.collect()
        refs.extend(weakref.ref(frame) for _, frame in out)
        alive = len({id(r()) for r in refs if r() is not None}) // len(out)
        most_alive = max(most_alive, alive)
        return out

    prom_run.fetch_chunk = tracked
    conn = store.connect(db)
    conn.execute("SET memory_limit = '512MB'")  # DuckDB's buffer pool has its own bound
    settings = prometheus.PrometheusSettings(
        url=url, max_samples_per_query=int(max_samples), max_concurrency=int(concurrency)
    )
    window = Window(parse_ts(start), parse_ts(end))
    report = prometheus.collect(conn, window=window, settings=settings, groups=(prometheus.DCGM,))
    # DuckDB's own memory (buffer pool, the gpu_samples key index) grows with the rows stored.
    duckdb_mib = conn.execute("SELECT sum(memory_usage_bytes) FROM duckdb_memory()").fetchall()
    conn.close()
    group = report.groups[0]
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        json.dumps(
            {
                "rss_mib": rss,
                "duckdb_mib": float(duckdb_mib[0][0] or 0) / 2**20,
                "chunks": group.chunks,
                "samples": group.samples,
                "most_alive": most_alive,
            }
        )
    )
