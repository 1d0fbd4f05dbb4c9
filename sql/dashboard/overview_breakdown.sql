-- overview_breakdown: spend by one fleet dimension.
-- Grain: one row per value of $dim. Inputs: allocation.
-- Parameters: $start, $end (half-open UTC), the tenant scope (sql/dashboard/scope/), $clusters, $teams (VARCHAR[]),
--   $dim ('cluster' | 'nodepool' | 'capacity_type' | 'gpu_model'; chosen by CASE, never spliced).
-- Output: value, cost_usd_micros, cost_usd (DOUBLE, charts only), gpu_hours, idle_cost_usd_micros.
SELECT CASE $dim
           WHEN 'cluster' THEN a.cluster
           WHEN 'nodepool' THEN a.cluster || '/' || a.nodepool
           WHEN 'capacity_type' THEN a.capacity_type
           WHEN 'gpu_model' THEN a.gpu_model
       END AS value,
       CAST(sum(a.gpu_cost_usd_micros) AS BIGINT) AS cost_usd_micros,
       sum(a.gpu_cost_usd_micros) / 1e6 AS cost_usd,
       sum(a.gpu_hours) AS gpu_hours,
       CAST(coalesce(sum(a.gpu_cost_usd_micros) FILTER (WHERE a.pod = '__idle__'), 0) AS BIGINT) AS idle_cost_usd_micros
FROM allocation a
WHERE a.window_start_ts >= $start AND a.window_start_ts < $end
  AND (len($clusters) = 0 OR list_contains($clusters, a.cluster))
  AND (len($teams) = 0 OR list_contains($teams, a.team))
GROUP BY 1
ORDER BY cost_usd_micros DESC, value;
