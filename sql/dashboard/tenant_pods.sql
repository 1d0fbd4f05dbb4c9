-- tenant_pods: drill-down of one tenant's namespace into pods (the most expensive $limit).
-- Grain: one row per (cluster, namespace, pod). Inputs: allocation.
-- Parameters: $start, $end (half-open UTC), the tenant scope (sql/dashboard/scope/), $clusters (VARCHAR[]), $team,
--   $namespace, $limit.
-- Output: cluster, namespace, pod, model, nodes, gpu_hours, gpu_hours_used, efficiency_pct,
--   cost_usd_micros, cost_usd (DOUBLE, display), first_ts, last_end_ts.
SELECT a.cluster, a.namespace, a.pod, any_value(a.model) AS model, count(DISTINCT a.node) AS nodes,
       sum(a.gpu_hours) AS gpu_hours, sum(a.gpu_hours_used) AS gpu_hours_used,
       100 * sum(a.gpu_hours_used) / nullif(sum(a.gpu_hours), 0) AS efficiency_pct,
       CAST(sum(a.gpu_cost_usd_micros) AS BIGINT) AS cost_usd_micros,
       sum(a.gpu_cost_usd_micros) / 1e6 AS cost_usd,
       min(a.window_start_ts) AS first_ts, max(a.window_end_ts) AS last_end_ts
FROM allocation a
WHERE a.window_start_ts >= $start AND a.window_start_ts < $end
  AND (len($clusters) = 0 OR list_contains($clusters, a.cluster))
  AND a.team = $team AND a.namespace = $namespace AND a.pod <> '__idle__'
GROUP BY a.cluster, a.namespace, a.pod
ORDER BY cost_usd_micros DESC, a.pod
LIMIT $limit;
