-- gpu_memory: per workload, a high percentile of GPU framebuffer used per GPU.
-- Grain: one row per (cluster, namespace, pod). Inputs: gpu_samples. Parameters: $start, $end,
-- $quantile (0-1). Output: cluster, namespace, pod, fb_used_q_mib (MiB per GPU at the quantile),
--         fb_used_max_mib, samples (count).
SELECT cluster, namespace, pod,
       quantile_cont(fb_used_mib, $quantile) AS fb_used_q_mib,
       max(fb_used_mib) AS fb_used_max_mib,
       count(*) AS samples
FROM gpu_samples
WHERE ts >= $start AND ts < $end AND pod IS NOT NULL AND fb_used_mib IS NOT NULL
GROUP BY ALL
ORDER BY ALL;
