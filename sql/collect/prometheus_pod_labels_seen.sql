-- prometheus_pod_labels_seen: when each pod label a chunk carries was last seen by earlier loads.
-- Grain: (cluster, namespace, pod, key). Inputs: prometheus_pod_label_seen, registered relation
-- _prom_keys (cluster, namespace, pod, key) of the labels in the chunk.
-- Output: cluster, namespace, pod, key, last_seen_ts (TIMESTAMPTZ, UTC).
SELECT s.cluster, s.namespace, s.pod, s.key, s.last_seen_ts
FROM prometheus_pod_label_seen AS s
WHERE (s.cluster, s.namespace, s.pod, s.key)
      IN (SELECT cluster, namespace, pod, key FROM _prom_keys)
