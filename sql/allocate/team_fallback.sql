-- team_fallback: namespaces whose team is the namespace itself because no pod or namespace
-- `team` label and no team-map row names one (kube-state-metrics exports no kube_*_labels
-- series without --metric-labels-allowlist), for the notice under `costlab allocate`.
-- Inputs: allocation, pod_labels, namespace_labels.
-- Parameters: $start, $end, $mapped (namespaces the team map names, any cluster).
-- Output: one row: namespaces (BIGINT), cost_usd_micros (BIGINT).
SELECT count(DISTINCT a.cluster || '/' || a.namespace) AS namespaces,
       CAST(coalesce(sum(a.gpu_cost_usd_micros), 0) AS BIGINT) AS cost_usd_micros
FROM allocation a
WHERE a.window_start_ts >= $start AND a.window_start_ts < $end
  AND a.pod <> '__idle__' AND a.team = a.namespace
  AND NOT list_contains($mapped, a.namespace)
  AND NOT EXISTS (SELECT 1 FROM pod_labels pl
                  WHERE pl.cluster = a.cluster AND pl.namespace = a.namespace AND pl.pod = a.pod AND pl.key = 'team')
  AND NOT EXISTS (SELECT 1 FROM namespace_labels nl
                  WHERE nl.cluster = a.cluster AND nl.namespace = a.namespace AND nl.key = 'team');
