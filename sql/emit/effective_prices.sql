-- Purpose: the price in force at $now for every instance type / region / zone / capacity type the
--          prices table knows, as `costlab exporter` serves it (costlab_instance_hourly_cost_usd).
--          Rule: the latest row (effective_from <= $now) per source; then the best source by
--          priority manual > spot-history > pricing-api > karpenter-estimate > snapshot; a
--          region-wide row (zone = '') also prices every zone of its region, and within one
--          source a zone's own row beats the region-wide one. zone = '' rows are region-wide.
-- Grain: one row per (instance_type, region, zone, capacity_type).
-- Inputs: prices; nodes (GPUs per instance type, for the per-GPU price).
-- Parameters: $now (TIMESTAMPTZ).
-- Output: instance_type       VARCHAR
--         region              VARCHAR
--         zone                VARCHAR  '' = region-wide
--         capacity_type       VARCHAR  spot | on-demand | reserved
--         source              VARCHAR  the winning source
--         usd_micros_per_hour BIGINT   instance price, micro-dollars per hour
--         gpu_count           INTEGER  GPUs per instance (max seen in nodes); NULL when unknown or 0
WITH latest_per_source AS (
    SELECT
        instance_type, region, zone, capacity_type, source, effective_from, usd_micros_per_hour,
        CASE source
            WHEN 'manual' THEN 1
            WHEN 'spot-history' THEN 2
            WHEN 'pricing-api' THEN 3
            WHEN 'karpenter-estimate' THEN 4
            ELSE 5
        END AS priority
    FROM prices
    WHERE effective_from <= $now
    QUALIFY row_number() OVER (
        PARTITION BY instance_type, region, zone, capacity_type, source ORDER BY effective_from DESC
    ) = 1
),
price_keys AS (
    SELECT DISTINCT instance_type, region, zone, capacity_type FROM latest_per_source
),
candidates AS (
    SELECT k.instance_type, k.region, k.zone, k.capacity_type, p.source, p.priority,
           p.zone <> '' AS zonal, p.effective_from, p.usd_micros_per_hour
    FROM price_keys AS k
    JOIN latest_per_source AS p
      ON p.instance_type = k.instance_type AND p.region = k.region
     AND p.capacity_type = k.capacity_type AND (p.zone = k.zone OR p.zone = '')
),
gpus AS (
    SELECT instance_type, max(gpu_count) AS gpu_count
    FROM nodes
    WHERE gpu_count > 0
    GROUP BY instance_type
)
SELECT c.instance_type, c.region, c.zone, c.capacity_type, c.source,
       CAST(c.usd_micros_per_hour AS BIGINT) AS usd_micros_per_hour,
       CAST(g.gpu_count AS INTEGER) AS gpu_count
FROM candidates AS c
LEFT JOIN gpus AS g USING (instance_type)
QUALIFY row_number() OVER (
    PARTITION BY c.instance_type, c.region, c.zone, c.capacity_type
    ORDER BY c.priority, c.zonal DESC, c.effective_from DESC
) = 1
ORDER BY c.instance_type, c.capacity_type, c.region, c.zone;
