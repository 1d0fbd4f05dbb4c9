-- options: the values the global filters offer, and the data's time span, within the scope.
-- Grain: one row per (cluster, team) seen in allocation. Inputs: allocation.
-- Parameters: none (the tenant scope is the scoped `allocation`: sql/dashboard/scope/).
-- Output: cluster, team, first_ts (earliest hour bucket, UTC), last_end_ts (latest bucket end, UTC).
SELECT a.cluster, a.team,
       min(a.window_start_ts) AS first_ts,
       max(a.window_end_ts) AS last_end_ts
FROM allocation a
GROUP BY a.cluster, a.team
ORDER BY a.cluster, a.team;
