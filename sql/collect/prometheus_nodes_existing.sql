-- prometheus_nodes_existing: `nodes` rows the Prometheus collector wrote that a new chunk may
-- extend, close or follow (for gap detection).
-- Grain: (cluster, node, start_ts). Inputs: nodes, prometheus_node_presence, and the registered
-- relation _prom_keys (cluster, node) of nodes seen in the chunk.
-- Parameters: $since (TIMESTAMPTZ): only intervals last seen at or after it.
-- Output: the nodes columns plus last_seen_ts (TIMESTAMPTZ).
SELECT n.cluster, n.node, n.start_ts, n.end_ts, n.end_reason, n.nodepool, n.instance_type,
       n.capacity_type, n.region, n.zone, n.gpu_count, n.gpu_model, p.last_seen_ts
FROM nodes AS n
JOIN prometheus_node_presence AS p USING (cluster, node, start_ts)
WHERE p.last_seen_ts >= $since
  AND (n.cluster, n.node) IN (SELECT cluster, node FROM _prom_keys)
ORDER BY n.cluster, n.node, n.start_ts
