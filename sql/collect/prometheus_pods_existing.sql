-- prometheus_pods_existing: `pod_gpu_requests` rows the Prometheus collector wrote that a new
-- chunk may extend, close or follow (for gap detection).
-- Grain: (cluster, namespace, pod, container, gpu_resource, start_ts). Inputs: pod_gpu_requests,
-- prometheus_pod_presence, registered relation _prom_keys (cluster, namespace, pod, container,
-- gpu_resource) of pods seen in the chunk.
-- Parameters: $since (TIMESTAMPTZ): only intervals last seen at or after it.
-- Output: the pod_gpu_requests columns plus last_seen_ts (TIMESTAMPTZ).
SELECT r.cluster, r.namespace, r.pod, r.container, r.gpu_resource, r.start_ts, r.end_ts, r.node,
       r.quantity, p.last_seen_ts
FROM pod_gpu_requests AS r
JOIN prometheus_pod_presence AS p USING (cluster, namespace, pod, container, gpu_resource, start_ts)
WHERE p.last_seen_ts >= $since
  AND (r.cluster, r.namespace, r.pod, r.container, r.gpu_resource)
      IN (SELECT cluster, namespace, pod, container, gpu_resource FROM _prom_keys)
ORDER BY r.cluster, r.namespace, r.pod, r.container, r.gpu_resource, r.start_ts
