-- prometheus_samples_last_seen: per DCGM series (GPU / MIG instance) its last stored sample before
-- a chunk, within the gap lookback: the sample a silence at the start of the chunk follows.
-- Grain: (cluster, node, gpu_uuid, mig_instance_id). Inputs: gpu_samples.
-- Parameters: $since, $before (TIMESTAMPTZ: samples in [since, before)), $cluster (VARCHAR, NULL
-- for every cluster). Output: the key and last_ts (TIMESTAMPTZ UTC).
SELECT cluster, node, gpu_uuid, mig_instance_id, max(ts) AS last_ts
FROM gpu_samples
WHERE ts >= $since AND ts < $before AND ($cluster IS NULL OR cluster = $cluster)
GROUP BY cluster, node, gpu_uuid, mig_instance_id
