-- prometheus_namespace_labels_seen: when each namespace label a chunk carries was last seen by
-- earlier loads.
-- Grain: (cluster, namespace, key). Inputs: prometheus_namespace_label_seen, registered relation
-- _prom_keys (cluster, namespace, key) of the labels in the chunk.
-- Output: cluster, namespace, key, last_seen_ts (TIMESTAMPTZ, UTC).
SELECT s.cluster, s.namespace, s.key, s.last_seen_ts
FROM prometheus_namespace_label_seen AS s
WHERE (s.cluster, s.namespace, s.key) IN (SELECT cluster, namespace, key FROM _prom_keys)
