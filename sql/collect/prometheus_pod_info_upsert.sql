-- prometheus_pod_info_upsert: merge a chunk's kube_pod_info summary into prometheus_pod_info.
-- Grain: (cluster, namespace, pod, uid). Input: registered relation _prom_pod_info with the
-- table's columns. first_seen_ts / last_seen_ts widen; the attributes come from whichever side was
-- seen last (ties: the chunk), so chunk order and reruns do not change the result.
INSERT INTO prometheus_pod_info
SELECT cluster, namespace, pod, uid, node, host_ip, created_by_kind, created_by_name,
       priority_class, first_seen_ts, last_seen_ts
FROM _prom_pod_info
ON CONFLICT (cluster, namespace, pod, uid) DO UPDATE SET
    node = CASE WHEN excluded.last_seen_ts >= prometheus_pod_info.last_seen_ts
                THEN coalesce(excluded.node, prometheus_pod_info.node)
                ELSE coalesce(prometheus_pod_info.node, excluded.node) END,
    host_ip = CASE WHEN excluded.last_seen_ts >= prometheus_pod_info.last_seen_ts
                   THEN coalesce(excluded.host_ip, prometheus_pod_info.host_ip)
                   ELSE coalesce(prometheus_pod_info.host_ip, excluded.host_ip) END,
    created_by_kind = CASE WHEN excluded.last_seen_ts >= prometheus_pod_info.last_seen_ts
                   THEN coalesce(excluded.created_by_kind, prometheus_pod_info.created_by_kind)
                   ELSE coalesce(prometheus_pod_info.created_by_kind, excluded.created_by_kind) END,
    created_by_name = CASE WHEN excluded.last_seen_ts >= prometheus_pod_info.last_seen_ts
                   THEN coalesce(excluded.created_by_name, prometheus_pod_info.created_by_name)
                   ELSE coalesce(prometheus_pod_info.created_by_name, excluded.created_by_name) END,
    priority_class = CASE WHEN excluded.last_seen_ts >= prometheus_pod_info.last_seen_ts
                   THEN coalesce(excluded.priority_class, prometheus_pod_info.priority_class)
                   ELSE coalesce(prometheus_pod_info.priority_class, excluded.priority_class) END,
    first_seen_ts = least(excluded.first_seen_ts, prometheus_pod_info.first_seen_ts),
    last_seen_ts = greatest(excluded.last_seen_ts, prometheus_pod_info.last_seen_ts)
