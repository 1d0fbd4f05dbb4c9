-- unpriced: node time in the window that no price covers (unknown instance type or region, or
-- before the first known price). Reported in unpriced_node_hours, never charged as $0.
-- Grain: (hour, cluster, node). Inputs: nodes, alloc_hours, alloc_node_segments.
-- Parameters: $horizon. Output: node_hours (hours of node time without a price).
WITH life AS (
    SELECT cluster, node, start_ts, coalesce(end_ts, $horizon) AS life_end_ts,
           instance_type, capacity_type, region
    FROM nodes
),
hourly AS (
    SELECT l.cluster, l.node, l.start_ts, l.instance_type, l.capacity_type, l.region, h.hour_start,
           epoch_ms(least(l.life_end_ts, h.hour_end)) - epoch_ms(greatest(l.start_ts, h.hour_start)) AS life_ms
    FROM life l
    JOIN alloc_hours h ON h.hour_start < l.life_end_ts AND h.hour_end > l.start_ts
),
priced AS (
    SELECT cluster, node, node_start_ts, hour_start, sum(seg_ms) AS priced_ms
    FROM alloc_node_segments
    GROUP BY cluster, node, node_start_ts, hour_start
)
SELECT h.hour_start AS window_start_ts, h.cluster, h.node, h.instance_type, h.capacity_type, h.region,
       sum(h.life_ms - coalesce(p.priced_ms, 0)) / 3600000.0 AS node_hours
FROM hourly h
LEFT JOIN priced p
  ON p.cluster = h.cluster AND p.node = h.node AND p.node_start_ts = h.start_ts AND p.hour_start = h.hour_start
WHERE h.life_ms > coalesce(p.priced_ms, 0)
GROUP BY ALL;
