-- overview_totals: spend and GPU-hours for the filtered window, idle share and efficiency.
-- Grain: one row. Inputs: allocation, unpriced_node_hours (fleet scope only).
-- Parameters: $start, $end (half-open UTC), the tenant scope (sql/dashboard/scope/), $clusters, $teams
--   (VARCHAR[]; empty = all).
-- Output: cost_usd_micros (all rows incl. idle), idle_cost_usd_micros, gpu_hours (requested +
--   idle), idle_gpu_hours, used_gpu_hours, requested_gpu_hours, idle_ratio (idle $ / all $),
--   efficiency_ratio (used / requested, non-idle rows with usage), unpriced_node_hours.
WITH a AS (
    SELECT *
    FROM allocation a
    WHERE a.window_start_ts >= $start AND a.window_start_ts < $end
      AND (len($clusters) = 0 OR list_contains($clusters, a.cluster))
      AND (len($teams) = 0 OR list_contains($teams, a.team))
)
SELECT CAST(coalesce(sum(gpu_cost_usd_micros), 0) AS BIGINT) AS cost_usd_micros,
       CAST(coalesce(sum(gpu_cost_usd_micros) FILTER (WHERE pod = '__idle__'), 0) AS BIGINT) AS idle_cost_usd_micros,
       coalesce(sum(gpu_hours), 0) AS gpu_hours,
       coalesce(sum(gpu_hours) FILTER (WHERE pod = '__idle__'), 0) AS idle_gpu_hours,
       coalesce(sum(gpu_hours_used) FILTER (WHERE pod <> '__idle__'), 0) AS used_gpu_hours,
       coalesce(sum(gpu_hours) FILTER (WHERE pod <> '__idle__'), 0) AS requested_gpu_hours,
       CAST(sum(gpu_cost_usd_micros) FILTER (WHERE pod = '__idle__') AS DOUBLE)
           / nullif(sum(gpu_cost_usd_micros), 0) AS idle_ratio,
       sum(gpu_hours_used) FILTER (WHERE pod <> '__idle__' AND gpu_hours_used IS NOT NULL)
           / nullif(sum(gpu_hours) FILTER (WHERE pod <> '__idle__' AND gpu_hours_used IS NOT NULL), 0)
           AS efficiency_ratio,
       (SELECT coalesce(sum(u.node_hours), 0) FROM unpriced_node_hours u
         WHERE u.window_start_ts >= $start AND u.window_start_ts < $end
           AND (len($clusters) = 0 OR list_contains($clusters, u.cluster))) AS unpriced_node_hours
FROM a;
