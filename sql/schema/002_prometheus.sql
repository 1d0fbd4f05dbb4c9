-- 002_prometheus: state the Prometheus collector keeps to merge presence intervals across runs.
-- Grain: one row per interval row it wrote to `nodes` / `pod_gpu_requests` (same key), with the
-- last evaluation timestamp at which the series had a sample. An open interval (end_ts NULL) does
-- not say when it was last seen; this does, so a later incremental run can extend it (same
-- start_ts) or close it at last_seen_ts + step instead of writing a duplicate.
-- Columns: key columns as in the target table; last_seen_ts TIMESTAMPTZ (UTC).

CREATE TABLE IF NOT EXISTS prometheus_node_presence (
    cluster      VARCHAR     NOT NULL,
    node         VARCHAR     NOT NULL,
    start_ts     TIMESTAMPTZ NOT NULL,
    last_seen_ts TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (cluster, node, start_ts)
);

CREATE TABLE IF NOT EXISTS prometheus_pod_presence (
    cluster      VARCHAR     NOT NULL,
    namespace    VARCHAR     NOT NULL,
    pod          VARCHAR     NOT NULL,
    container    VARCHAR     NOT NULL,
    gpu_resource VARCHAR     NOT NULL,
    start_ts     TIMESTAMPTZ NOT NULL,
    last_seen_ts TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (cluster, namespace, pod, container, gpu_resource, start_ts)
);
