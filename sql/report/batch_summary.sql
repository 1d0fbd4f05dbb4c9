-- batch_summary: headline figures of a report period.
-- Grain: one row. Inputs: allocation. Parameters: $start, $end (half-open, hour-aligned).
-- Output: total_usd_micros (all GPU node cost = BilledCost total), idle_usd_micros,
--   unallocated_usd_micros (team '__unallocated__'), gpu_hours (capacity: requested + idle),
--   requested_gpu_hours, used_gpu_hours (requested x DCGM util, NULL if never measured),
--   measured_gpu_hours (requested GPU-hours that had a usage measurement), idle_gpu_hours,
--   hours (distinct hour buckets with data), nodes (distinct cluster/node), first_ts, last_ts.
SELECT
    CAST(coalesce(sum(gpu_cost_usd_micros), 0) AS BIGINT) AS total_usd_micros,
    CAST(coalesce(sum(gpu_cost_usd_micros) FILTER (WHERE pod = '__idle__'), 0) AS BIGINT) AS idle_usd_micros,
    CAST(coalesce(sum(gpu_cost_usd_micros) FILTER (WHERE pod <> '__idle__' AND team = '__unallocated__'), 0) AS BIGINT)
        AS unallocated_usd_micros,
    coalesce(sum(gpu_hours), 0) AS gpu_hours,
    coalesce(sum(gpu_hours) FILTER (WHERE pod <> '__idle__'), 0) AS requested_gpu_hours,
    sum(gpu_hours_used) FILTER (WHERE pod <> '__idle__') AS used_gpu_hours,
    coalesce(sum(gpu_hours) FILTER (WHERE pod <> '__idle__' AND gpu_hours_used IS NOT NULL), 0) AS measured_gpu_hours,
    coalesce(sum(gpu_hours) FILTER (WHERE pod = '__idle__'), 0) AS idle_gpu_hours,
    count(DISTINCT window_start_ts) AS hours,
    count(DISTINCT cluster || '/' || node) AS nodes,
    min(window_start_ts) AS first_ts,
    max(window_end_ts) AS last_ts
FROM allocation
WHERE window_start_ts >= $start AND window_start_ts < $end;
