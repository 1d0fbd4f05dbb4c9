-- gpu_mig: MIG usage: per node and MIG profile, how many instances exist, how many had a pod
-- assigned, and their utilisation.
-- Grain: one row per (cluster, node, mig_profile). Inputs: gpu_samples, allocation (tenant pods).
-- Parameters: $start, $end (half-open UTC), the tenant scope (sql/dashboard/scope/), $clusters, $teams (VARCHAR[]).
-- Output: cluster, node, mig_profile, instances, assigned_pct (samples with a pod x 100),
--   mean_util_pct, mean_fb_used_mib.
WITH pods AS (
    SELECT DISTINCT a.cluster, a.namespace, a.pod
    FROM allocation a
    WHERE len($teams) > 0
      AND a.window_start_ts >= $start AND a.window_start_ts < $end
      AND list_contains($teams, a.team)
)
SELECT g.cluster, g.node, g.mig_profile,
       count(DISTINCT (g.gpu_uuid, g.mig_instance_id)) AS instances,
       100 * avg(CASE WHEN g.pod IS NOT NULL THEN 1 ELSE 0 END) AS assigned_pct,
       avg(g.util_pct) AS mean_util_pct,
       avg(g.fb_used_mib) AS mean_fb_used_mib
FROM gpu_samples g
WHERE g.ts >= $start AND g.ts < $end AND g.mig_instance_id >= 0
  AND (len($clusters) = 0 OR list_contains($clusters, g.cluster))
  AND (len($teams) = 0
       OR EXISTS (SELECT 1 FROM pods p WHERE p.cluster = g.cluster AND p.namespace = g.namespace AND p.pod = g.pod))
GROUP BY ALL
ORDER BY g.cluster, g.node, g.mig_profile;
