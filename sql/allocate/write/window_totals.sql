-- window_totals: what a window's allocation wrote, for the conservation check and the run record.
-- Grain: one row. Inputs: allocation, unpriced_node_hours. Parameters: $start, $end.
-- Output: allocated_usd_micros (sum of allocation cost), rows (allocation rows),
--   unpriced_node_hours (node-hours without a price).
SELECT (SELECT coalesce(sum(gpu_cost_usd_micros), 0) FROM allocation
         WHERE window_start_ts >= $start AND window_start_ts < $end) AS allocated_usd_micros,
       (SELECT count(*) FROM allocation
         WHERE window_start_ts >= $start AND window_start_ts < $end) AS rows,
       (SELECT coalesce(sum(node_hours), 0) FROM unpriced_node_hours
         WHERE window_start_ts >= $start AND window_start_ts < $end) AS unpriced_node_hours
