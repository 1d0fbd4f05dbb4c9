-- idle_shares: each scope's idle cost shared across the tenants of that scope in proportion to
-- their own cost, by largest remainder (so a scope's shares add up to its idle cost exactly),
-- only where $idle = 'share'. Computed over every tenant of the scope, returned for $tenant only
-- (NULL = all): a tenant-scoped reader learns its own share, no other tenant's.
-- Grain: one row per (share_scope, tenant) that receives a share. Inputs: idle_share_rows
-- (report_keys.sql over the whole fleet, put in front as a CTE: see costlab/allocate/report.py).
-- Parameters: $idle ('separate' | 'share'), $tenant.
-- Output: share_scope, tenant, idle_share_usd_micros (BIGINT).
WITH scope_costs AS (
    SELECT share_scope, tenant, sum(gpu_cost_usd_micros) AS own_cost_usd_micros
    FROM idle_share_rows
    GROUP BY share_scope, tenant
),
scope_idle AS (
    SELECT share_scope, own_cost_usd_micros AS idle_usd_micros
    FROM scope_costs WHERE tenant = '__idle__'
),
idle_shareable AS (
    -- scopes whose idle can be shared: idle policy is share and some tenant has cost there
    SELECT t.share_scope, t.tenant, t.own_cost_usd_micros, i.idle_usd_micros,
           i.idle_usd_micros * CAST(t.own_cost_usd_micros AS DOUBLE)
               / sum(t.own_cost_usd_micros) OVER (PARTITION BY t.share_scope) AS exact_micros
    FROM scope_costs t
    JOIN scope_idle i ON i.share_scope = t.share_scope
    WHERE $idle = 'share' AND t.tenant <> '__idle__' AND t.own_cost_usd_micros > 0
),
idle_share_split AS (
    SELECT share_scope, tenant,
           CAST(floor(exact_micros) AS BIGINT)
             + CASE WHEN row_number() OVER (PARTITION BY share_scope
                                            ORDER BY exact_micros - floor(exact_micros) DESC, tenant)
                         <= idle_usd_micros - sum(CAST(floor(exact_micros) AS BIGINT)) OVER (PARTITION BY share_scope)
                    THEN 1 ELSE 0 END AS idle_share_usd_micros
    FROM idle_shareable
)
SELECT share_scope, tenant, idle_share_usd_micros
FROM idle_share_split
WHERE $tenant IS NULL OR tenant = $tenant
