-- overview_forecast: month-to-date spend of the month containing the window's last hour, a
-- forecast to month end (month-to-date + mean daily spend of the last 7 days of data x days
-- left) and the monthly budget next to it.
-- Grain: one row. Inputs: allocation.
-- Parameters: $end (exclusive end of the selected window, UTC), the tenant scope (sql/dashboard/scope/), $clusters,
--   $teams (VARCHAR[]), $budget_usd_micros (BIGINT; NULL = no budget set).
-- Output: month_start_ts, month_end_ts, asof_ts (end of data used), mtd_usd_micros,
--   daily_run_rate_usd_micros, days_left (DOUBLE), forecast_usd_micros, budget_usd_micros,
--   budget_left_usd_micros (budget - forecast), budget_used_ratio (forecast / budget),
--   mtd_usd, forecast_usd, budget_usd (DOUBLE, charts only).
WITH scoped AS (
    SELECT a.window_start_ts, a.window_end_ts, a.gpu_cost_usd_micros
    FROM allocation a
    WHERE (len($clusters) = 0 OR list_contains($clusters, a.cluster))
      AND (len($teams) = 0 OR list_contains($teams, a.team))
),
m AS (
    SELECT date_trunc('month', CAST($end AS TIMESTAMPTZ) - INTERVAL 1 MICROSECOND) AS month_start_ts,
           date_trunc('month', CAST($end AS TIMESTAMPTZ) - INTERVAL 1 MICROSECOND) + INTERVAL 1 MONTH AS month_end_ts
),
cut AS (
    SELECT least(CAST($end AS TIMESTAMPTZ),
                 coalesce((SELECT max(window_end_ts) FROM scoped WHERE window_start_ts < $end), CAST($end AS TIMESTAMPTZ)))
           AS asof_ts
),
k AS (
    SELECT m.month_start_ts, m.month_end_ts, cut.asof_ts,
           greatest(cut.asof_ts - INTERVAL 7 DAY, m.month_start_ts - INTERVAL 7 DAY) AS rate_start_ts
    FROM m, cut
),
sums AS (
    SELECT coalesce(sum(s.gpu_cost_usd_micros) FILTER (
                WHERE s.window_start_ts >= k.month_start_ts AND s.window_start_ts < k.asof_ts), 0) AS mtd,
           coalesce(sum(s.gpu_cost_usd_micros) FILTER (
                WHERE s.window_start_ts >= k.rate_start_ts AND s.window_start_ts < k.asof_ts), 0) AS rate_sum,
           min(s.window_start_ts) FILTER (WHERE s.window_start_ts >= k.rate_start_ts AND s.window_start_ts < k.asof_ts)
               AS rate_first_ts
    FROM k LEFT JOIN scoped s ON TRUE
),
calc AS (
    SELECT k.*, sums.mtd,
           CASE WHEN sums.rate_first_ts IS NULL THEN 0
                ELSE sums.rate_sum / (epoch(k.asof_ts) - epoch(sums.rate_first_ts)) * 86400 END AS rate,
           greatest(epoch(k.month_end_ts) - epoch(k.asof_ts), 0) / 86400 AS days_left
    FROM k, sums
)
SELECT month_start_ts, month_end_ts, asof_ts,
       CAST(mtd AS BIGINT) AS mtd_usd_micros,
       CAST(round(rate) AS BIGINT) AS daily_run_rate_usd_micros,
       days_left,
       CAST(mtd + round(rate * days_left) AS BIGINT) AS forecast_usd_micros,
       CAST($budget_usd_micros AS BIGINT) AS budget_usd_micros,
       CAST($budget_usd_micros - (mtd + round(rate * days_left)) AS BIGINT) AS budget_left_usd_micros,
       (mtd + round(rate * days_left)) / nullif(CAST($budget_usd_micros AS DOUBLE), 0) AS budget_used_ratio,
       mtd / 1e6 AS mtd_usd,
       (mtd + round(rate * days_left)) / 1e6 AS forecast_usd,
       $budget_usd_micros / 1e6 AS budget_usd
FROM calc;
