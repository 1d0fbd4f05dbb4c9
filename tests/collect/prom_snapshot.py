"""Every table the Prometheus collector writes, read in a stable order: two runs that must agree
are compared with `snapshot(a) == snapshot(b)`; `backfill_snapshot` is the reference run."""

from __future__ import annotations

import duckdb

from costlab import store
from costlab.collect.prometheus import PrometheusSettings, collect
from costlab.timeutil import Window

TABLES = {
    "gpu_samples": "SELECT * FROM gpu_samples ORDER BY ALL",
    "nodes": "SELECT * FROM nodes ORDER BY ALL",
    "pod_gpu_requests": "SELECT * FROM pod_gpu_requests ORDER BY ALL",
    "pod_labels": "SELECT * FROM pod_labels ORDER BY ALL",
    "namespace_labels": "SELECT * FROM namespace_labels ORDER BY ALL",
    "prices": "SELECT * FROM prices ORDER BY ALL",
    "gaps": "SELECT source, series, gap_start_ts, gap_end_ts, kind FROM collection_gaps "
    "ORDER BY ALL",
    "node_presence": "SELECT * FROM prometheus_node_presence ORDER BY ALL",
    "pod_presence": "SELECT * FROM prometheus_pod_presence ORDER BY ALL",
    "pod_label_seen": "SELECT * FROM prometheus_pod_label_seen ORDER BY ALL",
    "namespace_label_seen": "SELECT * FROM prometheus_namespace_label_seen ORDER BY ALL",
    "pod_info": "SELECT * FROM prometheus_pod_info ORDER BY ALL",
    "quarantine": "SELECT table_name, reason, payload FROM quarantine ORDER BY ALL",
}


def snapshot(conn: duckdb.DuckDBPyConnection) -> dict[str, list[tuple]]:
    return {name: conn.execute(sql).fetchall() for name, sql in TABLES.items()}


def settings(url: str, **kw) -> PrometheusSettings:
    """Collector settings for the test servers: retries without the production backoff."""
    return PrometheusSettings(url=url, backoff_s=0.01, max_backoff_s=0.05, **kw)


def backfill_snapshot(url: str, window: Window, **kw) -> dict[str, list[tuple]]:
    """One uninterrupted backfill of `window` into a fresh database, as a snapshot."""
    conn = store.connect(":memory:")
    try:
        collect(conn, window=window, settings=settings(url, **kw))
        return snapshot(conn)
    finally:
        conn.close()
