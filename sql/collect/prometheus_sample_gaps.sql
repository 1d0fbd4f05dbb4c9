-- prometheus_sample_gaps: silences in DCGM series (per GPU / MIG instance) that end inside a chunk.
-- Grain: one row per (cluster, node, gpu_uuid, mig_instance_id, gap_start_ts).
-- Inputs: gpu_samples. Parameters: $start, $end (TIMESTAMPTZ, the chunk [start, end)),
-- $since (TIMESTAMPTZ, how far back to look for the sample before a silence),
-- $tolerance_s (DOUBLE, a silence longer than this many seconds is a gap), $step_s (DOUBLE).
-- Output: series (VARCHAR, e.g. DCGM{Hostname="n1",UUID="GPU-1",GPU_I_ID="-1"}),
-- gap_start_ts = previous sample + step, gap_end_ts = the sample that ends the silence.
WITH chunk_keys AS (
    SELECT DISTINCT cluster, node, gpu_uuid, mig_instance_id
    FROM gpu_samples WHERE ts >= $start AND ts < $end
),
ordered AS (
    SELECT g.cluster, g.node, g.gpu_uuid, g.mig_instance_id, g.ts,
           lag(g.ts) OVER (PARTITION BY g.cluster, g.node, g.gpu_uuid, g.mig_instance_id ORDER BY g.ts) AS prev_ts
    FROM gpu_samples AS g
    SEMI JOIN chunk_keys AS k
      ON g.cluster = k.cluster AND g.node = k.node AND g.gpu_uuid = k.gpu_uuid
     AND g.mig_instance_id = k.mig_instance_id
    WHERE g.ts >= $since AND g.ts < $end
)
SELECT 'DCGM{cluster="' || cluster || '",Hostname="' || node || '",UUID="' || gpu_uuid
       || '",GPU_I_ID="' || mig_instance_id || '"}' AS series,
       prev_ts + to_microseconds(CAST($step_s * 1e6 AS BIGINT)) AS gap_start_ts,
       ts AS gap_end_ts
FROM ordered
WHERE ts >= $start AND prev_ts IS NOT NULL
  AND epoch(ts) - epoch(prev_ts) > $tolerance_s
ORDER BY series, gap_start_ts
