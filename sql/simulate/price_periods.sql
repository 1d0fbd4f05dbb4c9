-- price_periods (simulator): alloc_price_periods (sql/allocate/price_periods.sql over
-- sql/simulate/price_keys.sql) in epoch seconds, for the simulator's price book.
-- Grain: one row per (instance_type, region, zone, capacity_type) and period.
-- Inputs: alloc_price_periods. Parameters: none.
-- Output: instance_type, region, zone ('' = region-wide), capacity_type, usd_micros_per_hour,
--         from_s, until_s (epoch seconds; NULL = open-ended).
SELECT instance_type, region, zone, capacity_type, usd_micros_per_hour,
       epoch(from_ts)::BIGINT AS from_s,
       epoch(until_ts)::BIGINT AS until_s
FROM alloc_price_periods
ORDER BY instance_type, region, zone, capacity_type, from_s;
