-- clear_allocation: remove the window's allocation rows before a result stage writes them again
-- (allocation is rebuilt per window, idempotently). Parameters: $start, $end (hour-aligned).
DELETE FROM allocation WHERE window_start_ts >= $start AND window_start_ts < $end
