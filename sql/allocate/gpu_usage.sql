-- gpu_usage: GPU time pods actually used, from DCGM samples mapped to pods, per node segment.
-- Each sample stands for sample_ms (the collector's step; $default_sample_ms when a loader did not
-- record it), so a missing scrape adds nothing rather than being interpolated. Use = that time x
-- util_pct/100, or engine_active_ratio with $usage_metric = 'engine_active' (always for MIG
-- instances, where DCGM reports no util), scaled by the MIG instance's fraction of a GPU.
-- Samples meet segments through their hour bucket (an equi-join), then the segment's time range.
-- Grain: (cluster, node, node_start_ts, seg_start_ts, namespace, pod).
-- Inputs: gpu_samples, alloc_node_segments, gpu_resource_fractions.
-- Parameters: $start, $end, $usage_metric, $default_sample_ms.
-- Output: used_gpu_ms (GPU-milliseconds of use).
CREATE OR REPLACE TEMP TABLE alloc_gpu_usage AS
WITH samples AS (
    -- the hour from epoch arithmetic: date_trunc on TIMESTAMPTZ goes through the time zone library
    -- and cost more than the rest of the scan (bench/README.md); costlab's sessions are UTC.
    SELECT s.cluster, s.node, s.ts, to_timestamp((epoch_ms(s.ts) // 3600000) * 3600) AS hour_start, s.namespace, s.pod,
           CASE WHEN $usage_metric = 'engine_active' OR s.mig_instance_id >= 0
                THEN s.engine_active_ratio ELSE s.util_pct / 100.0 END
             * coalesce(s.sample_ms, $default_sample_ms)
             * coalesce(f.gpu_fraction, 1.0) AS used_ms
    FROM gpu_samples s
    LEFT JOIN gpu_resource_fractions f
      ON s.mig_profile IS NOT NULL AND f.gpu_resource = 'nvidia.com/mig-' || s.mig_profile AND f.gpu_model = ''
    WHERE s.ts >= $start AND s.ts < $end AND s.pod IS NOT NULL
)
SELECT u.cluster, u.node, g.node_start_ts, g.seg_start_ts, u.namespace, u.pod, sum(u.used_ms) AS used_gpu_ms
FROM samples u
JOIN alloc_node_segments g
  ON g.cluster = u.cluster AND g.node = u.node AND g.hour_start = u.hour_start
 AND u.ts >= g.seg_start_ts AND u.ts < g.seg_end_ts
WHERE u.used_ms IS NOT NULL
GROUP BY u.cluster, u.node, g.node_start_ts, g.seg_start_ts, u.namespace, u.pod;
