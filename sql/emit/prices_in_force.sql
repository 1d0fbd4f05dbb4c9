-- Purpose: the price in force at $now for every (instance_type, region, zone, capacity_type) key
--          the prices table knows, as `costlab exporter` serves it (costlab_instance_hourly_cost_usd).
--          The resolution is the engine's own: alloc_price_periods, made by
--          sql/allocate/price_periods.sql over the keys of sql/simulate/price_keys.sql, so the
--          exporter's $/h (and the rules and alerts built on it) equals what the allocation
--          charges a node of that key. zone = '' is a region-wide key: a node in a zone without a
--          key of its own is priced by it, by the engine as by the rules.
-- Grain: one row per key with a price in force at $now.
-- Inputs: alloc_price_periods; nodes (GPUs per instance type, for the per-GPU price).
-- Parameters: $now (TIMESTAMPTZ).
-- Output: instance_type       VARCHAR
--         region              VARCHAR
--         zone                VARCHAR  '' = region-wide
--         capacity_type       VARCHAR  spot | on-demand | reserved
--         usd_micros_per_hour BIGINT   instance price, micro-dollars per hour
--         gpu_count           INTEGER  GPUs per instance (max seen in nodes); NULL when unknown or 0
WITH gpus AS (
    SELECT instance_type, max(gpu_count) AS gpu_count
    FROM nodes
    WHERE gpu_count > 0
    GROUP BY instance_type
)
SELECT p.instance_type, p.region, p.zone, p.capacity_type,
       CAST(p.usd_micros_per_hour AS BIGINT) AS usd_micros_per_hour,
       CAST(g.gpu_count AS INTEGER) AS gpu_count
FROM alloc_price_periods AS p
LEFT JOIN gpus AS g USING (instance_type)
WHERE p.from_ts <= $now AND (p.until_ts IS NULL OR p.until_ts > $now)
ORDER BY p.instance_type, p.capacity_type, p.region, p.zone;
