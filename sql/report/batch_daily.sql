-- batch_daily: GPU cost per UTC day of a report period, allocated vs idle (the trend chart).
-- Grain: one row per UTC day with data. Inputs: allocation. Parameters: $start, $end.
-- Output: day (DATE, UTC), allocated_usd_micros (non-idle), idle_usd_micros, gpu_hours,
--   used_gpu_hours (NULL if unmeasured).
SELECT CAST(date_trunc('day', window_start_ts AT TIME ZONE 'UTC') AS DATE) AS day,
       CAST(coalesce(sum(gpu_cost_usd_micros) FILTER (WHERE pod <> '__idle__'), 0) AS BIGINT) AS allocated_usd_micros,
       CAST(coalesce(sum(gpu_cost_usd_micros) FILTER (WHERE pod = '__idle__'), 0) AS BIGINT) AS idle_usd_micros,
       sum(gpu_hours) AS gpu_hours,
       sum(gpu_hours_used) AS used_gpu_hours
FROM allocation
WHERE window_start_ts >= $start AND window_start_ts < $end
GROUP BY 1
ORDER BY 1;
