-- split: each priced node segment's cost split over the GPU time pods claimed on that node, the
-- unclaimed rest to an idle row. Largest-remainder rounding per segment, so a segment's rows sum
-- to its cost exactly (money is conserved by construction).
-- Claimed GPU time per pod:
--   $mode = 'request': requested GPU-ms (whole GPUs; MIG slices by gpu_resource_fractions;
--                      time-sliced 'nvidia.com/gpu.shared' units as 1/$ts_replicas of a GPU);
--   $mode = 'usage'  : max(requested, used) GPU-ms (AWS split cost allocation), used from DCGM
--                      (alloc_gpu_usage), so pods using more than they requested pay for it.
-- Claims above the node's GPU capacity are scaled down to it. The GPU share of node cost
-- ($gpu_share, default 1) and the CPU/RAM rest are split with the same weights.
-- Grain: (hour, cluster, node, namespace, pod); idle rows have namespace = pod = '__idle__'.
-- Team: pod label `team`, else namespace label `team`, else the team map (cluster row, then any
-- cluster), else the namespace itself (kube-state-metrics exports no labels without an
-- allowlist: docs/allocation.md); '__unallocated__' only for a row without a namespace.
-- Inputs: alloc_node_segments, alloc_gpu_usage, pod_gpu_requests, gpu_resource_fractions,
--   pod_labels, namespace_labels, alloc_team_map (cluster, namespace, team; '' cluster = any).
-- Parameters: $start, $end, $horizon, $mode, $gpu_share, $ts_replicas.
-- Output: the columns of `allocation` in table order.
WITH pods AS (
    SELECT r.cluster, r.namespace, r.pod, r.node, r.start_ts, coalesce(r.end_ts, $horizon) AS end_ts,
           r.quantity * CASE WHEN r.gpu_resource = 'nvidia.com/gpu.shared' THEN 1.0 / $ts_replicas
                             ELSE f.gpu_fraction END AS gpus
    FROM pod_gpu_requests r
    LEFT JOIN gpu_resource_fractions f ON f.gpu_resource = r.gpu_resource AND f.gpu_model = ''
    WHERE r.start_ts < $end AND coalesce(r.end_ts, $horizon) > $start
      AND (f.gpu_fraction IS NOT NULL OR r.gpu_resource = 'nvidia.com/gpu.shared')
),
requested AS (
    SELECT s.cluster, s.node, s.node_start_ts, s.seg_start_ts, p.namespace, p.pod,
           sum(p.gpus * (epoch_ms(least(p.end_ts, s.seg_end_ts)) - epoch_ms(greatest(p.start_ts, s.seg_start_ts)))) AS requested_ms
    FROM alloc_node_segments s
    JOIN pods p
      ON p.cluster = s.cluster AND p.node = s.node AND p.start_ts < s.seg_end_ts AND p.end_ts > s.seg_start_ts
    GROUP BY s.cluster, s.node, s.node_start_ts, s.seg_start_ts, p.namespace, p.pod
),
claims AS (
    SELECT coalesce(r.cluster, u.cluster) AS cluster, coalesce(r.node, u.node) AS node,
           coalesce(r.node_start_ts, u.node_start_ts) AS node_start_ts,
           coalesce(r.seg_start_ts, u.seg_start_ts) AS seg_start_ts,
           coalesce(r.namespace, u.namespace) AS namespace, coalesce(r.pod, u.pod) AS pod,
           coalesce(r.requested_ms, 0) AS requested_ms,
           u.used_gpu_ms,
           CASE WHEN $mode = 'usage' THEN greatest(coalesce(r.requested_ms, 0), coalesce(u.used_gpu_ms, 0))
                ELSE coalesce(r.requested_ms, 0) END AS claim_ms
    FROM requested r
    FULL OUTER JOIN alloc_gpu_usage u
      ON u.cluster = r.cluster AND u.node = r.node AND u.node_start_ts = r.node_start_ts
     AND u.seg_start_ts = r.seg_start_ts AND u.namespace = r.namespace AND u.pod = r.pod
),
demand AS (
    SELECT cluster, node, node_start_ts, seg_start_ts, sum(claim_ms) AS claimed_ms
    FROM claims
    GROUP BY cluster, node, node_start_ts, seg_start_ts
),
weights AS (
    SELECT s.cluster, s.node, s.node_start_ts, s.seg_start_ts, s.hour_start, s.hour_end, s.cost_usd_micros,
           c.namespace, c.pod, c.requested_ms, c.used_gpu_ms,
           c.claim_ms * least(1.0, (s.gpu_count * s.seg_ms) / d.claimed_ms) AS weight
    FROM alloc_node_segments s
    JOIN claims c
      ON c.cluster = s.cluster AND c.node = s.node AND c.node_start_ts = s.node_start_ts AND c.seg_start_ts = s.seg_start_ts
    JOIN demand d
      ON d.cluster = s.cluster AND d.node = s.node AND d.node_start_ts = s.node_start_ts AND d.seg_start_ts = s.seg_start_ts
    WHERE s.gpu_count > 0 AND d.claimed_ms > 0
    UNION ALL
    SELECT s.cluster, s.node, s.node_start_ts, s.seg_start_ts, s.hour_start, s.hour_end, s.cost_usd_micros,
           '__idle__', '__idle__', 0, NULL,
           CASE WHEN s.gpu_count = 0 THEN s.seg_ms
                ELSE greatest(s.gpu_count * s.seg_ms - coalesce(d.claimed_ms, 0), 0) END
    FROM alloc_node_segments s
    LEFT JOIN demand d
      ON d.cluster = s.cluster AND d.node = s.node AND d.node_start_ts = s.node_start_ts AND d.seg_start_ts = s.seg_start_ts
),
priced AS (
    SELECT *,
           CAST(round(CAST(cost_usd_micros AS DECIMAL(38, 6)) * CAST($gpu_share AS DECIMAL(9, 6))) AS BIGINT) AS gpu_part,
           sum(weight) OVER seg AS total_weight
    FROM weights
    WHERE weight > 0
    WINDOW seg AS (PARTITION BY cluster, node, node_start_ts, seg_start_ts)
),
exact AS (
    SELECT *,
           gpu_part * weight / total_weight AS gpu_exact,
           (cost_usd_micros - gpu_part) * weight / total_weight AS other_exact
    FROM priced
),
rounded AS (
    SELECT *,
           CAST(floor(gpu_exact) AS BIGINT)
             + CASE WHEN row_number() OVER (PARTITION BY cluster, node, node_start_ts, seg_start_ts
                                            ORDER BY gpu_exact - floor(gpu_exact) DESC, namespace, pod)
                         <= gpu_part - sum(CAST(floor(gpu_exact) AS BIGINT)) OVER seg
                    THEN 1 ELSE 0 END AS gpu_micros,
           CAST(floor(other_exact) AS BIGINT)
             + CASE WHEN row_number() OVER (PARTITION BY cluster, node, node_start_ts, seg_start_ts
                                            ORDER BY other_exact - floor(other_exact) DESC, namespace, pod)
                         <= (cost_usd_micros - gpu_part) - sum(CAST(floor(other_exact) AS BIGINT)) OVER seg
                    THEN 1 ELSE 0 END AS other_micros
    FROM exact
    WINDOW seg AS (PARTITION BY cluster, node, node_start_ts, seg_start_ts)
),
per_pod AS (
    SELECT hour_start, hour_end, cluster, node, namespace, pod,
           sum(weight) / 3600000.0 AS gpu_hours,
           sum(requested_ms) / 3600000.0 AS gpu_hours_requested,
           sum(used_gpu_ms) / 3600000.0 AS gpu_hours_used,
           -- the parts of the row's charge; allocation.gpu_cost_usd_micros is their sum
           -- (a generated column, sql/schema/008_allocation_cost_parts.sql)
           sum(gpu_micros) AS gpu_part_usd_micros,
           sum(other_micros) AS other_cost_usd_micros
    FROM rounded
    GROUP BY hour_start, hour_end, cluster, node, namespace, pod
),
node_facts AS (
    SELECT cluster, node, hour_start, any_value(nodepool) AS nodepool, any_value(instance_type) AS instance_type,
           any_value(capacity_type) AS capacity_type, any_value(gpu_model) AS gpu_model
    FROM alloc_node_segments
    GROUP BY cluster, node, hour_start
)
SELECT pp.hour_start AS window_start_ts, pp.hour_end AS window_end_ts, pp.cluster,
       nf.nodepool, pp.node, nf.instance_type, nf.capacity_type, nf.gpu_model,
       pp.namespace, pp.pod,
       CASE WHEN pp.pod = '__idle__' THEN '__idle__'
            ELSE coalesce(pl.value, nl.value, tm.team, tm_any.team, nullif(pp.namespace, ''), '__unallocated__') END AS team,
       CASE WHEN pp.pod = '__idle__' THEN '' ELSE coalesce(ml.value, '') END AS model,
       pp.gpu_hours,
       CASE WHEN pp.pod = '__idle__' THEN NULL ELSE pp.gpu_hours_used END AS gpu_hours_used,
       pp.gpu_part_usd_micros,
       pp.gpu_hours_requested,
       pp.other_cost_usd_micros
FROM per_pod pp
JOIN node_facts nf ON nf.cluster = pp.cluster AND nf.node = pp.node AND nf.hour_start = pp.hour_start
LEFT JOIN pod_labels pl ON pl.cluster = pp.cluster AND pl.namespace = pp.namespace AND pl.pod = pp.pod AND pl.key = 'team'
LEFT JOIN namespace_labels nl ON nl.cluster = pp.cluster AND nl.namespace = pp.namespace AND nl.key = 'team'
LEFT JOIN alloc_team_map tm ON tm.cluster = pp.cluster AND tm.namespace = pp.namespace
LEFT JOIN alloc_team_map tm_any ON tm_any.cluster = '' AND tm_any.namespace = pp.namespace
LEFT JOIN pod_labels ml ON ml.cluster = pp.cluster AND ml.namespace = pp.namespace AND ml.pod = pp.pod AND ml.key = 'model';
