-- batch_by_dimension: GPU cost of a report period grouped by one dimension, idle kept visible.
-- Grain: one row per key of $dim. Inputs: allocation.
-- Parameters: $start, $end (half-open, hour-aligned); $dim, one of team | cluster | nodepool |
--   gpu_model | capacity_type | instance_type (checked against an allow-list in Python).
--   For $dim = 'team' idle is its own '__idle__' row (same rows as `costlab allocate --by team
--   --idle separate`); for the other dimensions idle stays inside the key it happened on and is
--   also reported in idle_usd_micros.
-- Output: key, gpu_hours (capacity incl. idle), requested_gpu_hours, used_gpu_hours (NULL if
--   unmeasured), idle_gpu_hours, idle_usd_micros, cost_usd_micros (incl. idle).
WITH base AS (
    SELECT CASE $dim
               WHEN 'team' THEN CASE WHEN pod = '__idle__' THEN '__idle__' ELSE team END
               WHEN 'cluster' THEN cluster
               WHEN 'nodepool' THEN cluster || '/' || coalesce(nullif(nodepool, ''), '(none)')
               WHEN 'gpu_model' THEN coalesce(nullif(gpu_model, ''), '(unknown)')
               WHEN 'capacity_type' THEN capacity_type
               WHEN 'instance_type' THEN instance_type
           END AS key,
           pod = '__idle__' AS is_idle, gpu_hours, gpu_hours_used, gpu_cost_usd_micros
    FROM allocation
    WHERE window_start_ts >= $start AND window_start_ts < $end
)
SELECT key,
       sum(gpu_hours) AS gpu_hours,
       coalesce(sum(gpu_hours) FILTER (WHERE NOT is_idle), 0) AS requested_gpu_hours,
       sum(gpu_hours_used) FILTER (WHERE NOT is_idle) AS used_gpu_hours,
       coalesce(sum(gpu_hours) FILTER (WHERE is_idle), 0) AS idle_gpu_hours,
       CAST(coalesce(sum(gpu_cost_usd_micros) FILTER (WHERE is_idle), 0) AS BIGINT) AS idle_usd_micros,
       CAST(sum(gpu_cost_usd_micros) AS BIGINT) AS cost_usd_micros
FROM base
GROUP BY key
ORDER BY cost_usd_micros DESC, key;
