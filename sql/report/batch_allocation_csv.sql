-- batch_allocation_csv: the allocation rows of a report period, as written to allocation.csv.
-- Grain: one row per (hour, cluster, node, namespace, pod) = the allocation table's key.
-- Inputs: allocation. Parameters: $start, $end (half-open, hour-aligned).
-- Output: window_start_ts, window_end_ts (UTC), cluster, nodepool, node, instance_type,
--   capacity_type, gpu_model, namespace, pod, team, model, gpu_hours, gpu_hours_used,
--   gpu_cost_usd_micros (BIGINT), gpu_cost_usd (DECIMAL(18,6), exact: micros / 1e6).
SELECT window_start_ts, window_end_ts, cluster, nodepool, node, instance_type, capacity_type,
       gpu_model, namespace, pod, team, model, gpu_hours, gpu_hours_used, gpu_cost_usd_micros,
       CAST(gpu_cost_usd_micros * CAST(0.000001 AS DECIMAL(7, 6)) AS DECIMAL(18, 6)) AS gpu_cost_usd
FROM allocation
WHERE window_start_ts >= $start AND window_start_ts < $end
ORDER BY window_start_ts, cluster, node, namespace, pod;
