-- tenant_namespaces: drill-down of one tenant (team) into its namespaces (own cost, idle excluded).
-- Grain: one row per (cluster, namespace). Inputs: allocation.
-- Parameters: $start, $end (half-open UTC), the tenant scope (sql/dashboard/scope/), $clusters (VARCHAR[]), $team.
-- Output: cluster, namespace, pods, gpu_hours, gpu_hours_used, efficiency_pct, cost_usd_micros,
--   cost_usd (DOUBLE, display).
SELECT a.cluster, a.namespace, count(DISTINCT a.pod) AS pods,
       sum(a.gpu_hours) AS gpu_hours, sum(a.gpu_hours_used) AS gpu_hours_used,
       100 * sum(a.gpu_hours_used) / nullif(sum(a.gpu_hours), 0) AS efficiency_pct,
       CAST(sum(a.gpu_cost_usd_micros) AS BIGINT) AS cost_usd_micros,
       sum(a.gpu_cost_usd_micros) / 1e6 AS cost_usd
FROM allocation a
WHERE a.window_start_ts >= $start AND a.window_start_ts < $end
  AND (len($clusters) = 0 OR list_contains($clusters, a.cluster))
  AND a.team = $team AND a.pod <> '__idle__'
GROUP BY a.cluster, a.namespace
ORDER BY cost_usd_micros DESC, a.cluster, a.namespace;
