-- prometheus_pod_presence_delete: the presence state of pod intervals dropped by a merge.
-- Input: registered relation _prom_drop (cluster, namespace, pod, container, gpu_resource, start_ts).
DELETE FROM prometheus_pod_presence
WHERE (cluster, namespace, pod, container, gpu_resource, start_ts)
      IN (SELECT cluster, namespace, pod, container, gpu_resource, start_ts FROM _prom_drop);
