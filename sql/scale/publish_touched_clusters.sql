-- publish_touched_clusters: the clusters a collection window touched, whose per-cluster tables
-- (nodes, pod_gpu_requests, pod_labels, namespace_labels) costlab/scale/publish.py republishes.
-- Grain: one row per cluster. Inputs: gpu_samples, nodes, pod_gpu_requests, the two label tables.
-- Parameters: $start, $end (TIMESTAMPTZ, half-open window; NULL = unbounded on that side).
-- Output: cluster (VARCHAR): has DCGM samples in the window, or a node or GPU request whose
--   interval [start_ts, end_ts] meets it (an interval closed by the run counts); with no window
--   at all, also every cluster with labels (labels carry no time).
SELECT cluster FROM gpu_samples
WHERE ($start IS NULL OR ts >= $start) AND ($end IS NULL OR ts < $end)
UNION
SELECT cluster FROM nodes
WHERE ($end IS NULL OR start_ts < $end) AND ($start IS NULL OR end_ts IS NULL OR end_ts >= $start)
UNION
SELECT cluster FROM pod_gpu_requests
WHERE ($end IS NULL OR start_ts < $end) AND ($start IS NULL OR end_ts IS NULL OR end_ts >= $start)
UNION
SELECT cluster FROM pod_labels WHERE $start IS NULL AND $end IS NULL
UNION
SELECT cluster FROM namespace_labels WHERE $start IS NULL AND $end IS NULL
ORDER BY cluster;
