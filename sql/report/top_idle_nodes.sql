-- top_idle_nodes: where idle GPU money lives. Grain: one row per (cluster, node).
-- Inputs: allocation. Parameters: $start, $end, $limit.
-- Output: cluster, nodepool, node, instance_type, idle_gpu_hours, idle_usd_micros,
--         idle_ratio (idle over all GPU cost of the node in the window).
SELECT cluster, any_value(nodepool) AS nodepool, node, any_value(instance_type) AS instance_type,
       sum(CASE WHEN pod = '__idle__' THEN gpu_hours ELSE 0 END) AS idle_gpu_hours,
       CAST(sum(CASE WHEN pod = '__idle__' THEN gpu_cost_usd_micros ELSE 0 END) AS BIGINT) AS idle_usd_micros,
       sum(CASE WHEN pod = '__idle__' THEN gpu_cost_usd_micros ELSE 0 END)
           / nullif(sum(gpu_cost_usd_micros), 0) AS idle_ratio
FROM allocation
WHERE window_start_ts >= $start AND window_start_ts < $end
GROUP BY cluster, node
HAVING sum(CASE WHEN pod = '__idle__' THEN gpu_cost_usd_micros ELSE 0 END) > 0
ORDER BY idle_usd_micros DESC, cluster, node
LIMIT $limit;
