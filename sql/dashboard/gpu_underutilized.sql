-- gpu_underutilized: nodes whose GPUs were busy less than $max_util_pct on average (requested
-- GPU-hours x util from allocation), with what they cost.
-- Grain: one row per (cluster, node). Inputs: allocation.
-- Parameters: $start, $end (half-open UTC), the tenant scope (sql/dashboard/scope/),
--   $clusters, $teams (VARCHAR[]), $max_util_pct (DOUBLE 0-100), $limit.
-- Output: cluster, nodepool, node, instance_type, capacity_type, gpu_model, hours, gpu_hours
--   (requested + idle), used_gpu_hours, util_pct (used / all GPU-hours x 100), idle_gpu_hours,
--   cost_usd_micros, cost_usd (DOUBLE, display).
SELECT a.cluster, any_value(a.nodepool) AS nodepool, a.node, any_value(a.instance_type) AS instance_type,
       any_value(a.capacity_type) AS capacity_type, any_value(a.gpu_model) AS gpu_model,
       count(DISTINCT a.window_start_ts) AS hours,
       sum(a.gpu_hours) AS gpu_hours,
       coalesce(sum(a.gpu_hours_used), 0) AS used_gpu_hours,
       100 * coalesce(sum(a.gpu_hours_used), 0) / nullif(sum(a.gpu_hours), 0) AS util_pct,
       coalesce(sum(a.gpu_hours) FILTER (WHERE a.pod = '__idle__'), 0) AS idle_gpu_hours,
       CAST(sum(a.gpu_cost_usd_micros) AS BIGINT) AS cost_usd_micros,
       sum(a.gpu_cost_usd_micros) / 1e6 AS cost_usd
FROM allocation a
WHERE a.window_start_ts >= $start AND a.window_start_ts < $end
  AND (len($clusters) = 0 OR list_contains($clusters, a.cluster))
  AND (len($teams) = 0 OR list_contains($teams, a.team))
GROUP BY a.cluster, a.node
HAVING 100 * coalesce(sum(a.gpu_hours_used), 0) / nullif(sum(a.gpu_hours), 0) < $max_util_pct
ORDER BY cost_usd_micros DESC, a.cluster, a.node
LIMIT $limit;
