-- Purpose: allocated GPU dollars per tenant in the last completed hour of the allocation table,
--          as `costlab exporter` serves it (costlab_tenant_allocated_cost_usd).
-- Grain: one row per (cluster, tenant) of that hour.
-- Inputs: allocation. Idle rows (namespace = '__idle__') are reported as tenant '__idle__'.
-- Parameters: $now (TIMESTAMPTZ): only hours with window_end_ts <= $now are complete.
-- Output: cluster         VARCHAR
--         tenant          VARCHAR      the team, or __idle__ / __unallocated__
--         window_start_ts TIMESTAMPTZ  start of the hour (the same for every row)
--         cost_usd_micros BIGINT       allocated GPU cost, micro-dollars
--         gpu_hours       DOUBLE       GPU-hours requested (idle: unrequested)
WITH last_complete AS (
    SELECT max(window_start_ts) AS hour_ts FROM allocation WHERE window_end_ts <= $now
)
SELECT
    a.cluster,
    CASE WHEN a.namespace = '__idle__' THEN '__idle__' ELSE a.team END AS tenant,
    a.window_start_ts,
    CAST(sum(a.gpu_cost_usd_micros) AS BIGINT) AS cost_usd_micros,
    CAST(sum(a.gpu_hours) AS DOUBLE) AS gpu_hours
FROM allocation AS a
JOIN last_complete AS l ON a.window_start_ts = l.hour_ts
GROUP BY 1, 2, 3
ORDER BY 1, 2;
