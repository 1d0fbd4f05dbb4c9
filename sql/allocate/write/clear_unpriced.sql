-- clear_unpriced: remove the window's unpriced_node_hours rows before they are written again.
-- Parameters: $start, $end (hour-aligned).
DELETE FROM unpriced_node_hours WHERE window_start_ts >= $start AND window_start_ts < $end
