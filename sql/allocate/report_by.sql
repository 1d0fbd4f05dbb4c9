-- report_by: allocation rows in a window, grouped by a tenant key, with idle either kept as its
-- own '__idle__' row or shared across the tenants of the same scope in proportion to their
-- cost (largest remainder, so totals are unchanged to the micro-dollar).
-- Grain: one row per tenant. Inputs: report_rows and idle_share_rows (report_keys.sql),
-- alloc_idle_shares (idle_shares.sql), put in front as CTEs by costlab/allocate/report.py
-- (report_sql), gpu_throughput.
-- Parameters: $start, $end (hour-aligned window), $by (team | namespace | nodepool | cluster |
--   model | label), $label_key (label name for $by = 'label'), $idle ('separate' | 'share'),
--   $scope ('cluster' | 'nodepool': where idle is shared), $tenant (NULL = all; a tenant-scoped
--   reader gets only its own row, its idle share still computed against its whole scope),
--   $clusters (VARCHAR[]; empty = all clusters), $teams (VARCHAR[]; empty = all tenants).
-- One implementation for the CLI, reports and the dashboard's chargeback page.
-- Output: tenant, gpu_hours (charged: requested, or max(requested, used) in usage mode),
--   gpu_hours_used, idle_gpu_hours, own_cost_usd_micros (GPU + CPU/RAM share of node cost),
--   idle_share_usd_micros, cost_usd_micros (= own + idle share), gpu_hours_requested,
--   a100_equiv_gpu_hours (gpu_hours x the GPU model's throughput relative to an A100; GPU models
--   missing from gpu_throughput count as NULL, so the sum is a lower bound then);
--   for display: total_cost_usd_micros (sum over the returned rows), cost_usd (DOUBLE),
--   efficiency_pct (used / charged GPU-hours x 100), idle_share_pct (idle share / cost x 100).
WITH per_scope AS (
    SELECT share_scope, tenant,
           sum(gpu_hours) AS gpu_hours,
           sum(gpu_hours_used) AS gpu_hours_used,
           sum(gpu_hours_requested) AS gpu_hours_requested,
           sum(gpu_hours * t.a100_equivalent) AS a100_equiv_gpu_hours,
           sum(gpu_cost_usd_micros) AS own_cost_usd_micros
    FROM report_rows r
    LEFT JOIN gpu_throughput t ON t.gpu_model = r.gpu_model
    GROUP BY share_scope, tenant
),
shared_scopes AS (SELECT DISTINCT share_scope FROM alloc_idle_shares),
rows AS (
    SELECT p.tenant, p.gpu_hours, p.gpu_hours_used, p.gpu_hours_requested, p.a100_equiv_gpu_hours,
           CASE WHEN p.tenant = '__idle__' THEN p.gpu_hours ELSE 0 END AS idle_gpu_hours,
           p.own_cost_usd_micros,
           coalesce(s.idle_share_usd_micros, 0) AS idle_share_usd_micros
    FROM per_scope p
    LEFT JOIN alloc_idle_shares s ON s.share_scope = p.share_scope AND s.tenant = p.tenant
    LEFT JOIN shared_scopes ss ON ss.share_scope = p.share_scope
    -- a scope's idle row disappears once its cost has been shared out
    WHERE NOT (p.tenant = '__idle__' AND ss.share_scope IS NOT NULL)
),
out AS (
    SELECT tenant,
           sum(gpu_hours) AS gpu_hours,
           sum(gpu_hours_used) AS gpu_hours_used,
           sum(idle_gpu_hours) AS idle_gpu_hours,
           CAST(sum(own_cost_usd_micros) AS BIGINT) AS own_cost_usd_micros,
           CAST(sum(idle_share_usd_micros) AS BIGINT) AS idle_share_usd_micros,
           CAST(sum(own_cost_usd_micros + idle_share_usd_micros) AS BIGINT) AS cost_usd_micros,
           sum(gpu_hours_requested) AS gpu_hours_requested,
           sum(a100_equiv_gpu_hours) AS a100_equiv_gpu_hours
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
