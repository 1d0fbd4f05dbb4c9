-- Purpose: the default threshold of the GPU cost alert: a quantile of the hourly GPU cost of one
--          cluster, over the last $baseline_days days of allocation data (ending at its last hour,
--          not at the clock, so the same database always yields the same rules).
-- Grain: one row for the whole baseline (every cluster-hour is one observation).
-- Inputs: allocation, every row including __idle__ rows: together they are the hour's whole GPU
--         node cost, which is what cluster:costlab_cost_usd_per_hour:sum measures live.
-- Parameters: $baseline_days (INTEGER, >= 1), $quantile (DOUBLE, 0 < q < 1).
-- Output: hours               BIGINT       cluster-hours in the baseline (0 = no data)
--         clusters            BIGINT       distinct clusters in the baseline
--         first_hour_ts       TIMESTAMPTZ  first hour bucket used (NULL when no data)
--         last_hour_ts        TIMESTAMPTZ  last hour bucket used (NULL when no data)
--         quantile_usd_micros BIGINT       the quantile of hourly cost, micro-dollars (NULL when no data)
--         max_usd_micros      BIGINT       the highest hourly cost, micro-dollars (NULL when no data)
WITH last_hour AS (
    SELECT max(window_start_ts) AS last_ts FROM allocation
),
hourly AS (
    SELECT a.cluster, a.window_start_ts, sum(a.gpu_cost_usd_micros) AS cost_usd_micros
    FROM allocation AS a, last_hour AS l
    WHERE a.window_start_ts > l.last_ts - to_days(CAST($baseline_days AS INTEGER))
    GROUP BY a.cluster, a.window_start_ts
)
SELECT
    CAST(count(*) AS BIGINT)                                                AS hours,
    CAST(count(DISTINCT cluster) AS BIGINT)                                 AS clusters,
    min(window_start_ts)                                                    AS first_hour_ts,
    max(window_start_ts)                                                    AS last_hour_ts,
    CAST(round(quantile_cont(cost_usd_micros, CAST($quantile AS DOUBLE))) AS BIGINT) AS quantile_usd_micros,
    CAST(max(cost_usd_micros) AS BIGINT)                                    AS max_usd_micros
FROM hourly;
