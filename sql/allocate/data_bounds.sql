-- data_bounds: the span of recorded data, used as the default window and as the horizon up to
-- which still-running nodes and pods are charged (never beyond what was observed).
-- Grain: one row. Inputs: nodes, pod_gpu_requests, gpu_samples, watermarks.
-- Output: first_ts (earliest node start), horizon_ts (latest of: watermarks, ended nodes and
-- pods, last GPU sample).
SELECT
    (SELECT min(start_ts) FROM nodes) AS first_ts,
    greatest(
        (SELECT max(loaded_until_ts) FROM watermarks),
        (SELECT max(end_ts) FROM nodes),
        (SELECT max(end_ts) FROM pod_gpu_requests),
        (SELECT max(ts) FROM gpu_samples),
        (SELECT max(start_ts) FROM nodes)
    ) AS horizon_ts;
