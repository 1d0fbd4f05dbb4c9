-- publish_runs_since: a source's collection runs that may have written rows since a publish.
-- Grain: one row per run. Inputs: collection_runs.
-- Parameters: $source (VARCHAR), $since (TIMESTAMPTZ: when the last publish read the state),
--   $now (TIMESTAMPTZ: stands in for the end of runs still running).
-- Output: run_id, started_ts, window_start_ts, window_end_ts (NULL for an incremental run
--   whose window follows its watermarks).
SELECT run_id, started_ts, window_start_ts, window_end_ts
FROM collection_runs
WHERE source = $source AND coalesce(finished_ts, $now) >= $since
ORDER BY started_ts, run_id;
