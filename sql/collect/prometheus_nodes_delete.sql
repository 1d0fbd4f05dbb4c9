-- prometheus_nodes_delete: drop `nodes` intervals (and their presence state) that a merge folded
-- into an earlier interval. Input: registered relation _prom_drop (cluster, node, start_ts).
DELETE FROM nodes WHERE (cluster, node, start_ts) IN (SELECT cluster, node, start_ts FROM _prom_drop);
