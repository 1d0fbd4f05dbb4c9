-- interrupted_runs: mark collection runs left 'running' by a process that is gone.
-- Run on a write connection: DuckDB admits one writing process, so a run booked by another
-- process, by another host, before pid/host were recorded, or by an earlier process that had
-- this pid (started before this process) cannot still be running.
-- Parameters: $pid (INTEGER), $host (VARCHAR), $process_started (TIMESTAMPTZ), $now (TIMESTAMPTZ).
-- Output: run_id, source, pid, host of each run marked.
UPDATE collection_runs
SET status = 'interrupted',
    finished_ts = $now,
    message = 'interrupted: its process (pid ' || coalesce(CAST(pid AS VARCHAR), '?') || ' on '
        || coalesce(host, '?') || ') ended without finishing (killed or crashed); found '
        || strftime($now, '%Y-%m-%dT%H:%M:%SZ')
WHERE status = 'running'
  AND (pid IS NULL OR host IS NULL OR pid <> $pid OR host <> $host OR started_ts < $process_started)
RETURNING run_id, source, pid, host;
