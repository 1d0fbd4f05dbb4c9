-- gpu_memory: GPU memory headroom per GPU model (and MIG profile), from DCGM framebuffer samples.
-- Grain: one row per (model_name, mig_profile). Inputs: gpu_samples, allocation (tenant pods).
-- Parameters: $start, $end (half-open UTC), the tenant scope (sql/dashboard/scope/), $clusters, $teams (VARCHAR[]).
-- Output: model_name, mig_profile ('' = whole GPU), gpus, mean_used_pct, p95_used_pct,
--   headroom_pct (100 - p95 used), total_mib (mean framebuffer size).
WITH pods AS (
    SELECT DISTINCT a.cluster, a.namespace, a.pod
    FROM allocation a
    WHERE len($teams) > 0
      AND a.window_start_ts >= $start AND a.window_start_ts < $end
      AND list_contains($teams, a.team)
),
s AS (
    SELECT coalesce(g.model_name, 'unknown') AS model_name, coalesce(g.mig_profile, '') AS mig_profile,
           g.gpu_uuid, g.mig_instance_id,
           100 * g.fb_used_mib / nullif(g.fb_used_mib + g.fb_free_mib, 0) AS used_pct,
           g.fb_used_mib + g.fb_free_mib AS total_mib
    FROM gpu_samples g
    WHERE g.ts >= $start AND g.ts < $end AND g.fb_used_mib IS NOT NULL AND g.fb_free_mib IS NOT NULL
      AND (len($clusters) = 0 OR list_contains($clusters, g.cluster))
      AND (len($teams) = 0
           OR EXISTS (SELECT 1 FROM pods p WHERE p.cluster = g.cluster AND p.namespace = g.namespace AND p.pod = g.pod))
)
SELECT model_name, mig_profile,
       count(DISTINCT (gpu_uuid, mig_instance_id)) AS gpus,
       avg(used_pct) AS mean_used_pct,
       quantile_cont(used_pct, 0.95) AS p95_used_pct,
       100 - quantile_cont(used_pct, 0.95) AS headroom_pct,
       avg(total_mib) AS total_mib
FROM s
GROUP BY ALL
ORDER BY model_name, mig_profile;
