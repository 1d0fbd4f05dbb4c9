-- price_periods: the price in effect for every (instance type, region, zone, capacity type) key in
-- alloc_price_keys (price_keys.sql: the window's nodes; the simulator's own keys), as a timeline
-- of half-open periods [from_ts, until_ts). The one price resolution of costlab.
-- Grain: one row per key and period. Inputs: alloc_price_keys, prices. Parameters: none.
-- Resolution at each change point, best first: a manual override (zone-specific before
-- region-wide), then zone-specific before region-wide, then source rank
-- spot-history < pricing-api < karpenter-estimate < snapshot, then the latest effective_from.
-- Output: instance_type, region, zone ('' if the node has none), capacity_type,
--         usd_micros_per_hour (BIGINT), from_ts, until_ts (NULL = open-ended).
CREATE OR REPLACE TEMP TABLE alloc_price_periods AS
WITH candidates AS (
    SELECT k.instance_type, k.region, k.zone, k.capacity_type,
           p.zone AS price_zone, p.source, p.effective_from, p.usd_micros_per_hour
    FROM alloc_price_keys k
    JOIN prices p
      ON p.instance_type = k.instance_type AND p.region = k.region
     AND p.capacity_type = k.capacity_type AND (p.zone = k.zone OR p.zone = '')
),
change_points AS (
    SELECT DISTINCT instance_type, region, zone, capacity_type, effective_from AS at_ts FROM candidates
),
ranked AS (
    SELECT cp.instance_type, cp.region, cp.zone, cp.capacity_type, cp.at_ts, c.usd_micros_per_hour,
           row_number() OVER (
               PARTITION BY cp.instance_type, cp.region, cp.zone, cp.capacity_type, cp.at_ts
               ORDER BY CASE WHEN c.source = 'manual' THEN 0 ELSE 1 END,
                        CASE WHEN c.price_zone <> '' THEN 0 ELSE 1 END,
                        CASE c.source WHEN 'spot-history' THEN 1 WHEN 'pricing-api' THEN 2
                                      WHEN 'karpenter-estimate' THEN 3 ELSE 4 END,
                        c.effective_from DESC
           ) AS rank_in_point
    FROM change_points cp
    JOIN candidates c
      ON c.instance_type = cp.instance_type AND c.region = cp.region AND c.zone = cp.zone
     AND c.capacity_type = cp.capacity_type AND c.effective_from <= cp.at_ts
)
SELECT instance_type, region, zone, capacity_type, usd_micros_per_hour,
       at_ts AS from_ts,
       lead(at_ts) OVER (PARTITION BY instance_type, region, zone, capacity_type ORDER BY at_ts) AS until_ts
FROM ranked
WHERE rank_in_point = 1;
