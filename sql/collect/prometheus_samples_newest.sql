-- prometheus_samples_newest: the newest stored DCGM sample time, to know whether a chunk lies
-- beyond everything stored (then its rows are appended and its gaps found from the chunk alone).
-- Grain: one row. Inputs: gpu_samples. Parameters: $cluster (VARCHAR, NULL for every cluster).
-- Output: newest_ts (TIMESTAMPTZ UTC, NULL when nothing is stored).
SELECT max(ts) AS newest_ts
FROM gpu_samples
WHERE $cluster IS NULL OR cluster = $cluster
