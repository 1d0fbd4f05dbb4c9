-- prometheus_node_presence_delete: the presence state of intervals dropped by a merge.
-- Input: registered relation _prom_drop (cluster, node, start_ts).
DELETE FROM prometheus_node_presence
WHERE (cluster, node, start_ts) IN (SELECT cluster, node, start_ts FROM _prom_drop);
