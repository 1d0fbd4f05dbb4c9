-- price_periods: the price in effect for every (instance type, region, zone, capacity type) key in
-- alloc_price_keys (price_keys.sql: the window's nodes; the simulator's and the exporter's own
-- keys), as a timeline of half-open periods [from_ts, until_ts). The one price resolution of
-- costlab.
-- Grain: one row per key and period. Inputs: alloc_price_keys, prices. Parameters: none.
-- Resolution at each change point, best first: a manual override (zone-specific before
-- region-wide), then zone-specific before region-wide, then source rank
-- spot-history < pricing-api < karpenter-estimate < snapshot, then the latest effective_from.
-- How: the order above, without the date, is one number per candidate row (class_rank); a class
-- is one (price zone, source), so its rows never tie on effective_from (primary key of prices).
-- A class, once it has a row, stays available, so the best class available is the running
-- minimum of class_rank over time, and the price in effect is that of the latest row that was in
-- the best class available when it appeared. Window functions over time, linear in the history
-- (comparing every change point with every earlier row took minutes for a year of spot prices).
-- Output: instance_type, region, zone ('' if the node has none), capacity_type,
--         usd_micros_per_hour (BIGINT), from_ts, until_ts (NULL = open-ended).
CREATE OR REPLACE TEMP TABLE alloc_price_periods AS
WITH candidates AS (
    SELECT k.instance_type, k.region, k.zone, k.capacity_type, p.effective_from,
           p.usd_micros_per_hour,
           CASE WHEN p.source = 'manual' THEN 0 ELSE 100 END
           + CASE WHEN p.zone <> '' THEN 0 ELSE 10 END
           + CASE p.source WHEN 'spot-history' THEN 1 WHEN 'pricing-api' THEN 2
                           WHEN 'karpenter-estimate' THEN 3 ELSE 4 END AS class_rank
    FROM alloc_price_keys k
    JOIN prices p
      ON p.instance_type = k.instance_type AND p.region = k.region
     AND p.capacity_type = k.capacity_type AND (p.zone = k.zone OR p.zone = '')
),
available AS (
    -- RANGE frame: rows at the same effective_from count as available together
    SELECT *,
           min(class_rank) OVER (
               PARTITION BY instance_type, region, zone, capacity_type ORDER BY effective_from
               RANGE BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW
           ) AS best_rank
    FROM candidates
),
change_points AS (
    -- per change point, the price of the row that takes over there (NULL: none does)
    SELECT instance_type, region, zone, capacity_type, effective_from AS at_ts,
           max(CASE WHEN class_rank = best_rank THEN usd_micros_per_hour END) AS taking_over
    FROM available
    GROUP BY instance_type, region, zone, capacity_type, effective_from
),
numbered AS (
    -- the price stays that of the last row that took over: number the takeovers
    SELECT *,
           count(taking_over) OVER (
               PARTITION BY instance_type, region, zone, capacity_type ORDER BY at_ts
               ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW
           ) AS takeover_no
    FROM change_points
)
SELECT instance_type, region, zone, capacity_type,
       CAST(max(taking_over) OVER (
           PARTITION BY instance_type, region, zone, capacity_type, takeover_no
       ) AS BIGINT) AS usd_micros_per_hour,
       at_ts AS from_ts,
       lead(at_ts) OVER (PARTITION BY instance_type, region, zone, capacity_type ORDER BY at_ts) AS until_ts
FROM numbered;
