-- price_keys: the price keys the allocation resolves (price_periods.sql): those of every node
-- alive in the window. The simulator puts its own keys here (sql/simulate/price_keys.sql) and
-- resolves them with the same price_periods.sql.
-- Grain: one row per (instance_type, region, zone, capacity_type). Inputs: nodes.
-- Parameters: $start, $end, $horizon.
-- Output: instance_type, region, zone ('' if the node has none), capacity_type.
CREATE OR REPLACE TEMP TABLE alloc_price_keys AS
SELECT DISTINCT instance_type, region, coalesce(zone, '') AS zone, capacity_type
FROM nodes
WHERE start_ts < $end AND coalesce(end_ts, $horizon) > $start;
