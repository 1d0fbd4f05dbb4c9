-- prometheus_last_prices: the latest Karpenter price estimate before a chunk, per offering, so a
-- chunk only writes a price row when the price changed.
-- Grain: (instance_type, region, zone, capacity_type). Inputs: prices (source 'karpenter-estimate').
-- Parameters: $before (TIMESTAMPTZ): prices effective strictly before it.
-- Output: instance_type, region, zone, capacity_type, usd_micros_per_hour (BIGINT micro-dollars/h).
SELECT instance_type, region, zone, capacity_type,
       arg_max(usd_micros_per_hour, effective_from) AS usd_micros_per_hour
FROM prices
WHERE source = 'karpenter-estimate' AND effective_from < $before
GROUP BY instance_type, region, zone, capacity_type
