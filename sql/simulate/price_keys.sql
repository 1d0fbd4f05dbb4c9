-- price_keys (simulator, exporter): every key the prices table knows, so a what-if node (another
-- capacity type, another instance type) can be priced, and `costlab exporter` can serve every
-- key; resolved by sql/allocate/price_periods.sql exactly as the allocation resolves a recorded
-- node's key. A zone with no price row of its own reads
-- the region-wide key (zone ''), which is what the allocation resolves for it too.
-- Grain: one row per (instance_type, region, zone, capacity_type). Inputs: prices.
-- Parameters: none.
-- Output: instance_type, region, zone ('' = region-wide), capacity_type.
CREATE OR REPLACE TEMP TABLE alloc_price_keys AS
SELECT DISTINCT instance_type, region, zone, capacity_type
FROM prices;
