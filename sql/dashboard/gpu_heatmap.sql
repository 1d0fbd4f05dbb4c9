-- gpu_heatmap: mean GPU utilisation per node and time bucket, from DCGM samples, for the
-- $max_nodes nodes with the most samples. Aggregated here so the browser gets cells, not samples.
-- Grain: one row per (cluster, node, bucket_ts). Inputs: gpu_samples, allocation (tenant pods).
-- Parameters: $start, $end (half-open UTC), the tenant scope (sql/dashboard/scope/),
--   $clusters, $teams (VARCHAR[]; teams restrict to those teams' pods), $bucket_hours (INTEGER),
--   $max_nodes (INTEGER).
-- Output: cluster, node, bucket_ts (UTC), util_pct (mean DCGM util 0-100), gpus (distinct GPUs).
WITH pods AS (
    SELECT DISTINCT a.cluster, a.namespace, a.pod
    FROM allocation a
    WHERE len($teams) > 0
      AND a.window_start_ts >= $start AND a.window_start_ts < $end
      AND list_contains($teams, a.team)
),
s AS (
    SELECT g.*
    FROM gpu_samples g
    WHERE g.ts >= $start AND g.ts < $end
      AND (len($clusters) = 0 OR list_contains($clusters, g.cluster))
      AND (len($teams) = 0
           OR EXISTS (SELECT 1 FROM pods p WHERE p.cluster = g.cluster AND p.namespace = g.namespace AND p.pod = g.pod))
),
top_nodes AS (
    SELECT cluster, node FROM s GROUP BY cluster, node ORDER BY count(*) DESC, cluster, node LIMIT $max_nodes
)
SELECT s.cluster, s.node,
       time_bucket(to_hours(CAST($bucket_hours AS BIGINT)), s.ts, TIMESTAMPTZ '2000-01-03 00:00:00+00') AS bucket_ts,
       avg(s.util_pct) AS util_pct,
       count(DISTINCT s.gpu_uuid) AS gpus
FROM s JOIN top_nodes t ON t.cluster = s.cluster AND t.node = s.node
GROUP BY ALL
ORDER BY s.cluster, s.node, bucket_ts;
