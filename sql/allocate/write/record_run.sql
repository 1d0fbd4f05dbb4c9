-- record_run: one allocation_runs row per allocated window (what was conserved, with which mode).
-- Parameters: $id, $start, $end, $now, $total, $allocated, $unpriced, $mode, $share.
INSERT INTO allocation_runs BY NAME
SELECT $id AS run_id, $start AS window_start_ts, $end AS window_end_ts, $now AS finished_ts,
       $total AS total_node_cost_usd_micros, $allocated AS allocated_usd_micros,
       $unpriced AS unpriced_node_hours, $mode AS mode, $share AS gpu_cost_share
