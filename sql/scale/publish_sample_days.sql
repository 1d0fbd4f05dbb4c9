-- publish_sample_days: the gpu_samples partitions (cluster=/date=) holding rows of a window.
-- Grain: one row per (cluster, date). Inputs: gpu_samples.
-- Parameters: $start, $end (TIMESTAMPTZ, half-open window; NULL = unbounded on that side),
--   $clusters (VARCHAR[]; NULL = every cluster).
-- Output: cluster (VARCHAR), date (VARCHAR 'YYYY-MM-DD', the UTC date of ts, as the folder name).
SELECT DISTINCT cluster, strftime(timezone('UTC', ts), '%Y-%m-%d') AS date
FROM gpu_samples
WHERE ($start IS NULL OR ts >= $start) AND ($end IS NULL OR ts < $end)
  AND ($clusters IS NULL OR list_contains($clusters, cluster))
ORDER BY cluster, date;
