-- prometheus_pods_delete: drop `pod_gpu_requests` intervals that a merge folded into an earlier
-- interval. Input: registered relation _prom_drop (cluster, namespace, pod, container,
-- gpu_resource, start_ts).
DELETE FROM pod_gpu_requests
WHERE (cluster, namespace, pod, container, gpu_resource, start_ts)
      IN (SELECT cluster, namespace, pod, container, gpu_resource, start_ts FROM _prom_drop);
