-- overview_daily: spend per UTC day, split into allocated and idle, for the trend chart.
-- Grain: one row per (day, kind). Inputs: allocation.
-- Parameters: $start, $end (half-open UTC), the tenant scope (sql/dashboard/scope/), $clusters, $teams (VARCHAR[]).
-- Output: day (DATE, UTC), kind ('allocated' | 'idle'), cost_usd_micros, cost_usd (DOUBLE, for
--   charts only), gpu_hours.
SELECT CAST(date_trunc('day', a.window_start_ts) AS DATE) AS day,
       CASE WHEN a.pod = '__idle__' THEN 'idle' ELSE 'allocated' END AS kind,
       CAST(sum(a.gpu_cost_usd_micros) AS BIGINT) AS cost_usd_micros,
       sum(a.gpu_cost_usd_micros) / 1e6 AS cost_usd,
       sum(a.gpu_hours) AS gpu_hours
FROM allocation a
WHERE a.window_start_ts >= $start AND a.window_start_ts < $end
  AND (len($clusters) = 0 OR list_contains($clusters, a.cluster))
  AND (len($teams) = 0 OR list_contains($teams, a.team))
GROUP BY ALL
ORDER BY day, kind;
