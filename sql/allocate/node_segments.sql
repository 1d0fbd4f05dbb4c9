-- node_segments: node lifetime cut by hour bucket and by price period, each piece priced.
-- Grain: one row per (cluster, node, node start, hour, price period piece).
-- Inputs: nodes, alloc_price_periods (price_periods.sql), alloc_hours (hour_start, hour_end; the
-- hour buckets of the window, made by the caller). Parameters: $horizon (end of recorded data:
-- a node still alive is charged up to here, never beyond).
-- Output: seg_start_ts, seg_end_ts, seg_ms (milliseconds), cost_usd_micros (BIGINT, price x time
-- rounded half-up to the micro-dollar once per piece, in DECIMAL so it is exact).
CREATE OR REPLACE TEMP TABLE alloc_node_segments AS
WITH life AS (
    SELECT cluster, node, start_ts, coalesce(end_ts, $horizon) AS life_end_ts,
           coalesce(nodepool, '') AS nodepool, instance_type, capacity_type, region,
           coalesce(zone, '') AS zone, gpu_count, coalesce(gpu_model, '') AS gpu_model
    FROM nodes
),
hourly AS (
    SELECT l.*, h.hour_start, h.hour_end,
           greatest(l.start_ts, h.hour_start) AS piece_start_ts,
           least(l.life_end_ts, h.hour_end) AS piece_end_ts
    FROM life l
    JOIN alloc_hours h ON h.hour_start < l.life_end_ts AND h.hour_end > l.start_ts
),
priced AS (
    SELECT hr.cluster, hr.node, hr.start_ts AS node_start_ts, hr.nodepool, hr.instance_type,
           hr.capacity_type, hr.region, hr.gpu_count, hr.gpu_model, hr.hour_start, hr.hour_end,
           greatest(hr.piece_start_ts, p.from_ts) AS seg_start_ts,
           least(hr.piece_end_ts, coalesce(p.until_ts, hr.piece_end_ts)) AS seg_end_ts,
           p.usd_micros_per_hour
    FROM hourly hr
    JOIN alloc_price_periods p
      ON p.instance_type = hr.instance_type AND p.region = hr.region AND p.zone = hr.zone
     AND p.capacity_type = hr.capacity_type
     AND p.from_ts < hr.piece_end_ts AND coalesce(p.until_ts, hr.piece_end_ts) > hr.piece_start_ts
)
SELECT *,
       epoch_ms(seg_end_ts) - epoch_ms(seg_start_ts) AS seg_ms,
       CAST(round(CAST(usd_micros_per_hour AS DECIMAL(38, 6))
                  * (epoch_ms(seg_end_ts) - epoch_ms(seg_start_ts)) / 3600000) AS BIGINT) AS cost_usd_micros
FROM priced
WHERE seg_end_ts > seg_start_ts;
