-- gpu_idle_pattern: idle GPU-hours by ISO weekday and hour of day (UTC): unrequested capacity
-- (allocation '__idle__' rows) and requested-but-unused GPU-hours (requested - used).
-- Grain: one row per (isodow, hour). Inputs: allocation.
-- Parameters: $start, $end (half-open UTC), the tenant scope (sql/dashboard/scope/), $clusters, $teams (VARCHAR[]).
-- Output: isodow (1 = Monday), weekday (Mon..Sun), hour (0-23), period (weekend | night | lunch |
--   business), idle_gpu_hours (unrequested), unused_gpu_hours (requested, not used),
--   waste_gpu_hours (sum of both).
SELECT isodow(a.window_start_ts) AS isodow,
       strftime(a.window_start_ts, '%a') AS weekday,
       hour(a.window_start_ts) AS hour,
       CASE WHEN isodow(a.window_start_ts) >= 6 THEN 'weekend'
            WHEN hour(a.window_start_ts) < 8 OR hour(a.window_start_ts) >= 19 THEN 'night'
            WHEN hour(a.window_start_ts) IN (12, 13) THEN 'lunch'
            ELSE 'business' END AS period,
       coalesce(sum(a.gpu_hours) FILTER (WHERE a.pod = '__idle__'), 0) AS idle_gpu_hours,
       coalesce(sum(a.gpu_hours - a.gpu_hours_used) FILTER (WHERE a.pod <> '__idle__' AND a.gpu_hours_used IS NOT NULL), 0)
           AS unused_gpu_hours,
       coalesce(sum(a.gpu_hours) FILTER (WHERE a.pod = '__idle__'), 0)
         + coalesce(sum(a.gpu_hours - a.gpu_hours_used) FILTER (WHERE a.pod <> '__idle__' AND a.gpu_hours_used IS NOT NULL), 0)
           AS waste_gpu_hours
FROM allocation a
WHERE a.window_start_ts >= $start AND a.window_start_ts < $end
  AND (len($clusters) = 0 OR list_contains($clusters, a.cluster))
  AND (len($teams) = 0 OR list_contains($teams, a.team))
GROUP BY ALL
ORDER BY isodow, hour;
