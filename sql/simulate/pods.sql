-- pods: GPU requests over time with the workload they belong to and its kind.
-- Grain: one row per pod_gpu_requests row overlapping the window. Inputs: pod_gpu_requests,
-- pod_labels, namespace_labels, gpu_resource_fractions. Parameters: $start, $end, $kind_label.
-- Label keys match as written or as kube-state-metrics spells them (workload_kind).
-- Output: cluster, namespace, pod, node, workload (namespace/name: label app.kubernetes.io/name,
--         else app, else the pod name without its ReplicaSet/Job hash or StatefulSet ordinal),
--         kind (pod label $kind_label, else namespace label, else ''), team, model,
--         gpus (GPU units: quantity x gpu_fraction), start_s, end_s (epoch seconds, clipped).
WITH labels AS (
    SELECT cluster, namespace, pod,
           max(value) FILTER (WHERE key IN ($kind_label, regexp_replace($kind_label, '[^a-zA-Z0-9_]', '_', 'g'))) AS kind,
           max(value) FILTER (WHERE key IN ('app.kubernetes.io/name', 'app_kubernetes_io_name')) AS app_name,
           max(value) FILTER (WHERE key = 'app') AS app,
           max(value) FILTER (WHERE key = 'team') AS team,
           max(value) FILTER (WHERE key = 'model') AS model
    FROM pod_labels GROUP BY ALL
),
ns AS (
    SELECT cluster, namespace,
           max(value) FILTER (WHERE key IN ($kind_label, regexp_replace($kind_label, '[^a-zA-Z0-9_]', '_', 'g'))) AS kind,
           max(value) FILTER (WHERE key = 'team') AS team
    FROM namespace_labels GROUP BY ALL
)
SELECT r.cluster, r.namespace, r.pod, r.node,
       r.namespace || '/' || coalesce(l.app_name, l.app,
           regexp_replace(regexp_replace(r.pod, '(-[a-z0-9]{6,10})?-[a-z0-9]{5}$', ''), '-[0-9]+$', ''))
           AS workload,
       coalesce(l.kind, n.kind, '') AS kind,
       coalesce(l.team, n.team, '') AS team,
       coalesce(l.model, '') AS model,
       r.quantity * coalesce(f.gpu_fraction, 1.0) AS gpus,
       epoch(greatest(r.start_ts, $start))::BIGINT AS start_s,
       epoch(least(coalesce(r.end_ts, $end), $end))::BIGINT AS end_s
FROM pod_gpu_requests r
LEFT JOIN labels l USING (cluster, namespace, pod)
LEFT JOIN ns n USING (cluster, namespace)
LEFT JOIN gpu_resource_fractions f ON f.gpu_resource = r.gpu_resource AND f.gpu_model = ''
WHERE r.start_ts < $end AND coalesce(r.end_ts, $end) > $start
ORDER BY r.cluster, r.node, r.start_ts, r.namespace, r.pod;
