-- tenants: chargeback per tenant (team): the same arithmetic as sql/allocate/report_by.sql with
-- by = team (idle kept as its own '__idle__' row, or shared across the tenants of a cluster in
-- proportion to their cost, largest remainder), plus the cluster/team filters and efficiency.
-- Grain: one row per tenant. Inputs: allocation.
-- Parameters: $start, $end (half-open UTC), $tenant (scope: only that tenant's row is returned;
--   its idle share is computed against the whole cluster), $clusters, $teams (VARCHAR[]),
--   $idle ('separate' | 'share').
-- Output: tenant, gpu_hours (requested), gpu_hours_used, idle_gpu_hours, own_cost_usd_micros,
--   idle_share_usd_micros, cost_usd_micros (= own + idle share), cost_usd (DOUBLE, display),
--   efficiency_pct (used / requested x 100), idle_share_pct (idle share / cost x 100),
--   total_cost_usd_micros (sum of cost_usd_micros over the returned rows).
WITH base AS (
    SELECT a.*,
           CASE WHEN a.pod = '__idle__' THEN '__idle__' ELSE a.team END AS tenant,
           a.cluster AS share_scope
    FROM allocation a
    WHERE a.window_start_ts >= $start AND a.window_start_ts < $end
      AND (len($clusters) = 0 OR list_contains($clusters, a.cluster))
),
per_scope AS (
    SELECT share_scope, tenant,
           sum(gpu_hours) AS gpu_hours,
           sum(gpu_hours_used) AS gpu_hours_used,
           sum(gpu_cost_usd_micros) AS own_cost_usd_micros
    FROM base
    GROUP BY share_scope, tenant
),
idle AS (
    SELECT share_scope, own_cost_usd_micros AS idle_usd_micros
    FROM per_scope WHERE tenant = '__idle__'
),
shareable AS (
    SELECT t.share_scope, t.tenant, t.own_cost_usd_micros, i.idle_usd_micros,
           i.idle_usd_micros * CAST(t.own_cost_usd_micros AS DOUBLE)
               / sum(t.own_cost_usd_micros) OVER (PARTITION BY t.share_scope) AS exact_micros
    FROM per_scope t
    JOIN idle i ON i.share_scope = t.share_scope
    WHERE $idle = 'share' AND t.tenant <> '__idle__' AND t.own_cost_usd_micros > 0
),
shares AS (
    SELECT share_scope, tenant,
           CAST(floor(exact_micros) AS BIGINT)
             + CASE WHEN row_number() OVER (PARTITION BY share_scope
                                            ORDER BY exact_micros - floor(exact_micros) DESC, tenant)
                         <= idle_usd_micros - sum(CAST(floor(exact_micros) AS BIGINT)) OVER (PARTITION BY share_scope)
                    THEN 1 ELSE 0 END AS idle_share_usd_micros
    FROM shareable
),
shared_scopes AS (SELECT DISTINCT share_scope FROM shares),
rows AS (
    SELECT p.tenant, p.gpu_hours, p.gpu_hours_used,
           CASE WHEN p.tenant = '__idle__' THEN p.gpu_hours ELSE 0 END AS idle_gpu_hours,
           p.own_cost_usd_micros,
           coalesce(s.idle_share_usd_micros, 0) AS idle_share_usd_micros
    FROM per_scope p
    LEFT JOIN shares s ON s.share_scope = p.share_scope AND s.tenant = p.tenant
    LEFT JOIN shared_scopes ss ON ss.share_scope = p.share_scope
    WHERE NOT (p.tenant = '__idle__' AND ss.share_scope IS NOT NULL)
),
out AS (
    SELECT tenant,
           sum(gpu_hours) AS gpu_hours,
           sum(gpu_hours_used) AS gpu_hours_used,
           sum(idle_gpu_hours) AS idle_gpu_hours,
           CAST(sum(own_cost_usd_micros) AS BIGINT) AS own_cost_usd_micros,
           CAST(sum(idle_share_usd_micros) AS BIGINT) AS idle_share_usd_micros,
           CAST(sum(own_cost_usd_micros + idle_share_usd_micros) AS BIGINT) AS cost_usd_micros
    FROM rows
    WHERE ($tenant IS NULL OR tenant = $tenant)
      AND (len($teams) = 0 OR list_contains($teams, tenant))
    GROUP BY tenant
    HAVING sum(own_cost_usd_micros + idle_share_usd_micros) <> 0 OR sum(gpu_hours) > 0
)
SELECT *,
       CAST(sum(cost_usd_micros) OVER () AS BIGINT) AS total_cost_usd_micros,
       cost_usd_micros / 1e6 AS cost_usd,
       100 * gpu_hours_used / nullif(gpu_hours, 0) AS efficiency_pct,
       100 * CAST(idle_share_usd_micros AS DOUBLE) / nullif(cost_usd_micros, 0) AS idle_share_pct
FROM out
ORDER BY cost_usd_micros DESC, tenant;
