-- focus_allocation: the allocation of a report period as FOCUS 1.1 cost-and-usage rows
-- (FinOps Open Cost and Usage Specification), so it joins other FinOps tools' data.
-- Grain: one row per (UTC charge day, cluster, node, namespace, team, model): pods of a namespace
--   on a node are summed; idle capacity of a node is its own row (x_Tenant = '__idle__').
-- Inputs: allocation, nodes (region, zone, GPU count), prices (public on-demand list price).
-- Parameters: $start, $end (half-open, day-aligned report window); provider strings
--   $provider_name, $publisher_name, $invoice_issuer_name, $billing_account_id,
--   $billing_account_name, $service_name, $service_category, $service_subcategory.
-- Money: DECIMAL(18,6) USD, exact from integer micro-dollars (micros x 0.000001, no floats).
--   BilledCost = EffectiveCost = ContractedCost = allocated GPU node cost (negotiated overrides
--   are already the price in effect); ListCost = public on-demand $/h x GPU-hours / GPUs on the
--   node, rounded to the micro-dollar, or BilledCost when no public on-demand price is known.
-- Output columns: FOCUS columns (PascalCase) then costlab's x_ columns; see docs/report.md.
WITH rows AS (
    SELECT CAST(date_trunc('day', a.window_start_ts) AS TIMESTAMPTZ) AS charge_start,
           a.cluster, a.nodepool, a.node, a.instance_type, a.capacity_type, a.gpu_model,
           a.namespace, a.team, a.model,
           a.pod = '__idle__' AS is_idle,
           sum(a.gpu_hours) AS gpu_hours,
           sum(a.gpu_hours_used) AS gpu_hours_used,
           CAST(sum(a.gpu_cost_usd_micros) AS BIGINT) AS cost_usd_micros
    FROM allocation a
    WHERE a.window_start_ts >= $start AND a.window_start_ts < $end
    GROUP BY ALL
),
node_attrs AS (
    SELECT cluster, node, arg_max(region, start_ts) AS region, arg_max(zone, start_ts) AS zone,
           max(gpu_count) AS gpu_count
    FROM nodes
    GROUP BY cluster, node
),
list_prices AS (
    -- public on-demand list prices (no manual overrides), one per key and effective time
    SELECT instance_type, region, effective_from,
           arg_min(usd_micros_per_hour,
                   CASE source WHEN 'pricing-api' THEN 1 WHEN 'snapshot' THEN 2 ELSE 3 END) AS usd_micros_per_hour
    FROM prices
    WHERE capacity_type = 'on-demand' AND source <> 'manual' AND zone = ''
    GROUP BY instance_type, region, effective_from
),
priced AS (
    SELECT r.*, n.region, n.zone, n.gpu_count, lp.usd_micros_per_hour AS list_micros_per_hour
    FROM rows r
    LEFT JOIN node_attrs n ON n.cluster = r.cluster AND n.node = r.node
    ASOF LEFT JOIN list_prices lp
      ON lp.instance_type = r.instance_type AND lp.region = n.region AND lp.effective_from <= r.charge_start
),
money AS (
    SELECT p.*,
           CAST(p.cost_usd_micros * CAST(0.000001 AS DECIMAL(7, 6)) AS DECIMAL(18, 6)) AS cost_usd,
           CASE WHEN p.list_micros_per_hour IS NULL OR coalesce(p.gpu_count, 0) = 0 THEN p.cost_usd_micros
                ELSE CAST(round(p.list_micros_per_hour * p.gpu_hours / p.gpu_count) AS BIGINT)
           END AS list_usd_micros
    FROM priced p
)
SELECT
    nullif(zone, '')                                                         AS AvailabilityZone,
    cost_usd                                                                 AS BilledCost,
    CAST($billing_account_id AS VARCHAR)                                                      AS BillingAccountId,
    CAST($billing_account_name AS VARCHAR)                                                    AS BillingAccountName,
    'USD'                                                                    AS BillingCurrency,
    CAST(date_trunc('month', charge_start) + INTERVAL 1 MONTH AS TIMESTAMPTZ) AS BillingPeriodEnd,
    CAST(date_trunc('month', charge_start) AS TIMESTAMPTZ)                   AS BillingPeriodStart,
    'Usage'                                                                  AS ChargeCategory,
    CAST(NULL AS VARCHAR)                                                    AS ChargeClass,
    CASE WHEN is_idle
         THEN 'Idle GPU capacity of ' || instance_type || ' (' || capacity_type || ') node ' || node
         ELSE 'GPU time of ' || namespace || ' (team ' || team || ') on ' || instance_type
              || ' (' || capacity_type || ') node ' || node
    END                                                                      AS ChargeDescription,
    'Usage-Based'                                                            AS ChargeFrequency,
    charge_start + INTERVAL 1 DAY                                            AS ChargePeriodEnd,
    charge_start                                                             AS ChargePeriodStart,
    CAST(NULL AS VARCHAR)                                                    AS CommitmentDiscountCategory,
    CAST(NULL AS VARCHAR)                                                    AS CommitmentDiscountId,
    CAST(NULL AS VARCHAR)                                                    AS CommitmentDiscountName,
    CAST(NULL AS VARCHAR)                                                    AS CommitmentDiscountStatus,
    CAST(NULL AS VARCHAR)                                                    AS CommitmentDiscountType,
    CAST(gpu_hours AS DECIMAL(18, 6))                                        AS ConsumedQuantity,
    'GPU-Hours'                                                              AS ConsumedUnit,
    cost_usd                                                                 AS ContractedCost,
    cost_usd                                                                 AS EffectiveCost,
    CAST($invoice_issuer_name AS VARCHAR)                                                     AS InvoiceIssuerName,
    CAST(list_usd_micros * CAST(0.000001 AS DECIMAL(7, 6)) AS DECIMAL(18, 6)) AS ListCost,
    CASE WHEN list_micros_per_hour IS NOT NULL AND coalesce(gpu_count, 0) > 0
         THEN CAST(list_micros_per_hour / gpu_count / 1000000 AS DECIMAL(18, 6)) END AS ListUnitPrice,
    CASE capacity_type WHEN 'on-demand' THEN 'Standard' WHEN 'spot' THEN 'Dynamic'
                       WHEN 'reserved' THEN 'Committed' ELSE 'Other' END   AS PricingCategory,
    CAST(gpu_hours AS DECIMAL(18, 6))                                        AS PricingQuantity,
    'GPU-Hours'                                                              AS PricingUnit,
    CAST($provider_name AS VARCHAR)                                                           AS ProviderName,
    CAST($publisher_name AS VARCHAR)                                                          AS PublisherName,
    region                                                                   AS RegionId,
    region                                                                   AS RegionName,
    cluster || '/' || node                                                   AS ResourceId,
    node                                                                     AS ResourceName,
    'Kubernetes Node'                                                        AS ResourceType,
    CAST($service_category AS VARCHAR)                                                        AS ServiceCategory,
    CAST($service_name AS VARCHAR)                                                            AS ServiceName,
    CAST($service_subcategory AS VARCHAR)                                                     AS ServiceSubcategory,
    instance_type                                                            AS SkuId,
    instance_type || ':' || coalesce(region, '') || ':' || capacity_type      AS SkuPriceId,
    cluster                                                                  AS SubAccountId,
    cluster                                                                  AS SubAccountName,
    CAST(json_object('cluster', cluster, 'gpu_model', gpu_model, 'model', model,
                     'namespace', namespace, 'nodepool', nodepool, 'team', team) AS VARCHAR) AS Tags,
    cluster                                                                  AS x_Cluster,
    nodepool                                                                 AS x_NodePool,
    namespace                                                                AS x_Namespace,
    team                                                                     AS x_Tenant,
    model                                                                    AS x_Model,
    gpu_model                                                                AS x_GpuModel,
    instance_type                                                            AS x_InstanceType,
    capacity_type                                                            AS x_CapacityType,
    CAST(gpu_hours AS DECIMAL(18, 6))                                        AS x_GpuHours,
    CAST(gpu_hours_used AS DECIMAL(18, 6))                                   AS x_GpuHoursUsed,
    CASE WHEN is_idle THEN cost_usd ELSE CAST(0 AS DECIMAL(18, 6)) END       AS x_IdleCost,
    cost_usd_micros                                                          AS x_CostUsdMicros
FROM money
ORDER BY ChargePeriodStart, x_Cluster, ResourceName, x_Namespace, x_Tenant, x_Model;
