-- gpu_usage: GPU time pods actually used, from DCGM samples mapped to pods, per node segment.
-- Each sample stands for the time until the series' next sample, capped at Prometheus' 5-minute
-- staleness (the last sample of a series takes the interval before it), so a missing scrape is
-- not counted as use. Usage = that time x util_pct/100 (or engine_active_ratio with
-- $usage_metric = 'engine_active', and always for MIG instances, where DCGM has no util).
-- Grain: (cluster, node, node_start_ts, seg_start_ts, namespace, pod).
-- Inputs: gpu_samples, alloc_node_segments. Parameters: $start, $end, $usage_metric.
-- Output: used_gpu_ms (GPU-milliseconds of use; MIG instances count as their fraction of a GPU).
CREATE OR REPLACE TEMP TABLE alloc_gpu_usage AS
WITH samples AS (
    SELECT cluster, node, ts, namespace, pod, mig_profile,
           CASE WHEN $usage_metric = 'engine_active' OR mig_instance_id >= 0
                THEN engine_active_ratio ELSE util_pct / 100.0 END AS busy_ratio,
           least(coalesce(epoch_ms(lead(ts) OVER series) - epoch_ms(ts),
                          epoch_ms(ts) - epoch_ms(lag(ts) OVER series), 60000), 300000) AS sample_ms
    FROM gpu_samples
    WHERE ts >= $start AND ts < $end
    WINDOW series AS (PARTITION BY cluster, node, gpu_uuid, mig_instance_id ORDER BY ts)
)
SELECT s.cluster, s.node, g.node_start_ts, g.seg_start_ts, s.namespace, s.pod,
       sum(s.busy_ratio * s.sample_ms * coalesce(f.gpu_fraction, 1.0)) AS used_gpu_ms
FROM samples s
JOIN alloc_node_segments g
  ON g.cluster = s.cluster AND g.node = s.node AND s.ts >= g.seg_start_ts AND s.ts < g.seg_end_ts
LEFT JOIN gpu_resource_fractions f
  ON f.gpu_resource = 'nvidia.com/mig-' || s.mig_profile AND f.gpu_model = ''
WHERE s.pod IS NOT NULL AND s.busy_ratio IS NOT NULL
GROUP BY s.cluster, s.node, g.node_start_ts, g.seg_start_ts, s.namespace, s.pod;
