-- overview_movers: tenants (team) whose spend changed most against the previous equal period
-- [$start - ($end - $start), $start).
-- Grain: one row per team. Inputs: allocation.
-- Parameters: $start, $end (half-open UTC), the tenant scope (sql/dashboard/scope/), $clusters, $teams (VARCHAR[]), $limit.
-- Output: team, current_usd_micros, previous_usd_micros, delta_usd_micros (current - previous),
--   delta_usd (DOUBLE, charts only), delta_ratio (delta / previous; NULL when previous is 0).
WITH w AS (
    SELECT CAST($start AS TIMESTAMPTZ) AS cur_start,
           CAST($end AS TIMESTAMPTZ) AS cur_end,
           CAST($start AS TIMESTAMPTZ) - (CAST($end AS TIMESTAMPTZ) - CAST($start AS TIMESTAMPTZ)) AS prev_start
),
per AS (
    SELECT a.team,
           coalesce(sum(a.gpu_cost_usd_micros) FILTER (WHERE a.window_start_ts >= w.cur_start), 0) AS cur,
           coalesce(sum(a.gpu_cost_usd_micros) FILTER (WHERE a.window_start_ts < w.cur_start), 0) AS prev
    FROM allocation a, w
    WHERE a.window_start_ts >= w.prev_start AND a.window_start_ts < w.cur_end
      AND a.team <> '__idle__'
      AND (len($clusters) = 0 OR list_contains($clusters, a.cluster))
      AND (len($teams) = 0 OR list_contains($teams, a.team))
    GROUP BY a.team
)
SELECT team,
       CAST(cur AS BIGINT) AS current_usd_micros,
       CAST(prev AS BIGINT) AS previous_usd_micros,
       CAST(cur - prev AS BIGINT) AS delta_usd_micros,
       (cur - prev) / 1e6 AS delta_usd,
       CAST(cur - prev AS DOUBLE) / nullif(prev, 0) AS delta_ratio
FROM per
ORDER BY abs(cur - prev) DESC, team
LIMIT $limit;
