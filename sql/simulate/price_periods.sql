-- price_periods: every known price as a timeline of half-open periods [from_s, until_s).
-- Grain: one row per (instance_type, region, zone, capacity_type) and period.
-- Inputs: prices. Parameters: none.
-- Resolution at each change point, best first: manual, then spot-history < pricing-api <
-- karpenter-estimate < snapshot, then the latest effective_from (each source's latest row at or
-- before the point counts, so a later list-price change does not undo an earlier override).
-- Output: instance_type, region, zone ('' = region-wide), capacity_type, usd_micros_per_hour,
--         from_s, until_s (epoch seconds; NULL = open-ended).
WITH change_points AS (
    SELECT DISTINCT instance_type, region, zone, capacity_type, effective_from AS at_ts FROM prices
),
ranked AS (
    SELECT cp.instance_type, cp.region, cp.zone, cp.capacity_type, cp.at_ts, p.usd_micros_per_hour,
           row_number() OVER (
               PARTITION BY cp.instance_type, cp.region, cp.zone, cp.capacity_type, cp.at_ts
               ORDER BY CASE p.source WHEN 'manual' THEN 0 WHEN 'spot-history' THEN 1
                                      WHEN 'pricing-api' THEN 2 WHEN 'karpenter-estimate' THEN 3
                                      ELSE 4 END,
                        p.effective_from DESC
           ) AS rank_in_point
    FROM change_points cp
    JOIN prices p
      ON p.instance_type = cp.instance_type AND p.region = cp.region AND p.zone = cp.zone
     AND p.capacity_type = cp.capacity_type AND p.effective_from <= cp.at_ts
)
SELECT instance_type, region, zone, capacity_type, usd_micros_per_hour,
       epoch(at_ts)::BIGINT AS from_s,
       epoch(lead(at_ts) OVER (PARTITION BY instance_type, region, zone, capacity_type ORDER BY at_ts))::BIGINT AS until_s
FROM ranked
WHERE rank_in_point = 1
ORDER BY instance_type, region, zone, capacity_type, from_s;
