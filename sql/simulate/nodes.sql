-- nodes: node lifetimes clipped to the replay window, with their group keys.
-- Grain: one row per (cluster, node, start_ts). Inputs: nodes. Parameters: $start, $end (window).
-- Output: cluster, node, nodepool ('' if unknown), instance_type, family (text before the first
--         '.'), capacity_type, region, zone ('' if unknown), gpu_count, gpu_model ('' if unknown),
--         gpu_memory_mib, end_reason ('' if alive), start_s, end_s (epoch seconds, clipped).
SELECT cluster, node, coalesce(nodepool, '') AS nodepool, instance_type,
       split_part(instance_type, '.', 1) AS family, capacity_type, region,
       coalesce(zone, '') AS zone, gpu_count, coalesce(gpu_model, '') AS gpu_model,
       gpu_memory_mib, coalesce(end_reason, '') AS end_reason,
       epoch(greatest(start_ts, $start))::BIGINT AS start_s,
       epoch(least(coalesce(end_ts, $end), $end))::BIGINT AS end_s
FROM nodes
WHERE start_ts < $end AND coalesce(end_ts, $end) > $start
ORDER BY cluster, node, start_ts;
