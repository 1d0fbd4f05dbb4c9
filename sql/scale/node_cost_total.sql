-- node_cost_total: the priced node cost of the window that the allocation must conserve.
-- Grain: one row. Inputs: alloc_node_segments (node_segments.sql). Parameters: none.
-- Output: total_usd_micros (BIGINT micro-dollars). Written in the dialect both engines share.
SELECT coalesce(sum(cost_usd_micros), 0) AS total_usd_micros FROM alloc_node_segments
