-- 004_label_seen: state the Prometheus collector keeps about kube-state-metrics objects.
--
-- prometheus_pod_label_seen / prometheus_namespace_label_seen
--   Grain: one row per row of pod_labels / namespace_labels (same key). last_seen_ts is the latest
--   evaluation timestamp at which kube_pod_labels / kube_namespace_labels carried the stored value.
--   A chunk only replaces a label value when it saw that label at or after last_seen_ts, so a
--   backfill of an old window never overwrites a newer value. pod_labels / namespace_labels keep
--   their shape (cluster, namespace[, pod], key, value): readers are unchanged.
--
-- prometheus_pod_info
--   Grain: (cluster, namespace, pod, uid): kube_pod_info of pods that requested GPUs.
--   node, host_ip, created_by_kind, created_by_name, priority_class: from the latest observation
--   (last_seen_ts); first_seen_ts / last_seen_ts: first and last evaluation timestamps (UTC).
--   Used to fill pod -> node when kube_pod_container_resource_requests lacks the `node` label.

CREATE TABLE IF NOT EXISTS prometheus_pod_label_seen (
    cluster      VARCHAR     NOT NULL,
    namespace    VARCHAR     NOT NULL,
    pod          VARCHAR     NOT NULL,
    key          VARCHAR     NOT NULL,
    last_seen_ts TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (cluster, namespace, pod, key)
);

CREATE TABLE IF NOT EXISTS prometheus_namespace_label_seen (
    cluster      VARCHAR     NOT NULL,
    namespace    VARCHAR     NOT NULL,
    key          VARCHAR     NOT NULL,
    last_seen_ts TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (cluster, namespace, key)
);

CREATE TABLE IF NOT EXISTS prometheus_pod_info (
    cluster         VARCHAR     NOT NULL,
    namespace       VARCHAR     NOT NULL,
    pod             VARCHAR     NOT NULL,
    uid             VARCHAR     NOT NULL DEFAULT '',
    node            VARCHAR,
    host_ip         VARCHAR,
    created_by_kind VARCHAR,
    created_by_name VARCHAR,
    priority_class  VARCHAR,
    first_seen_ts   TIMESTAMPTZ NOT NULL,
    last_seen_ts    TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (cluster, namespace, pod, uid)
);
