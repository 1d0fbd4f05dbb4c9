-- split_request_based: each priced node segment's cost split over the GPU-time pods requested on
-- that node, the unrequested rest to an idle row. Largest-remainder rounding per segment, so
-- the rows of a segment sum to its cost exactly (money is conserved by construction).
-- Grain: (hour, cluster, node, namespace, pod); idle rows have namespace = pod = '__idle__'.
-- Inputs: alloc_node_segments, pod_gpu_requests, gpu_resource_fractions, pod_labels,
--         namespace_labels, gpu_samples. Parameters: $start, $end, $horizon.
-- Output: the columns of the `allocation` table. gpu_hours = requested GPU-hours (idle rows:
-- unrequested GPU-hours); gpu_hours_used = gpu_hours x mean DCGM util of the pod's GPUs.
-- Requests above a node's GPU capacity (bad data, oversubscription) are scaled down to it.
WITH pods AS (
    SELECT r.cluster, r.namespace, r.pod, r.node, r.start_ts,
           coalesce(r.end_ts, $horizon) AS end_ts,
           r.quantity * f.gpu_fraction AS gpus
    FROM pod_gpu_requests r
    JOIN gpu_resource_fractions f ON f.gpu_resource = r.gpu_resource AND f.gpu_model = ''
    WHERE r.start_ts < $end AND coalesce(r.end_ts, $horizon) > $start
),
pod_pieces AS (
    SELECT s.cluster, s.node, s.node_start_ts, s.seg_start_ts, p.namespace, p.pod,
           sum(p.gpus * (epoch_ms(least(p.end_ts, s.seg_end_ts)) - epoch_ms(greatest(p.start_ts, s.seg_start_ts)))) AS gpu_ms
    FROM alloc_node_segments s
    JOIN pods p
      ON p.cluster = s.cluster AND p.node = s.node AND p.start_ts < s.seg_end_ts AND p.end_ts > s.seg_start_ts
    GROUP BY s.cluster, s.node, s.node_start_ts, s.seg_start_ts, p.namespace, p.pod
),
demand AS (
    SELECT cluster, node, node_start_ts, seg_start_ts, sum(gpu_ms) AS requested_ms
    FROM pod_pieces
    GROUP BY cluster, node, node_start_ts, seg_start_ts
),
weights AS (
    SELECT s.cluster, s.node, s.node_start_ts, s.seg_start_ts, s.hour_start, s.hour_end, s.cost_usd_micros,
           pp.namespace, pp.pod,
           pp.gpu_ms * least(1.0, (s.gpu_count * s.seg_ms) / d.requested_ms) AS weight
    FROM alloc_node_segments s
    JOIN pod_pieces pp
      ON pp.cluster = s.cluster AND pp.node = s.node AND pp.node_start_ts = s.node_start_ts AND pp.seg_start_ts = s.seg_start_ts
    JOIN demand d
      ON d.cluster = s.cluster AND d.node = s.node AND d.node_start_ts = s.node_start_ts AND d.seg_start_ts = s.seg_start_ts
    WHERE s.gpu_count > 0
    UNION ALL
    SELECT s.cluster, s.node, s.node_start_ts, s.seg_start_ts, s.hour_start, s.hour_end, s.cost_usd_micros,
           '__idle__', '__idle__',
           CASE WHEN s.gpu_count = 0 THEN s.seg_ms
                ELSE greatest(s.gpu_count * s.seg_ms - coalesce(d.requested_ms, 0), 0) END
    FROM alloc_node_segments s
    LEFT JOIN demand d
      ON d.cluster = s.cluster AND d.node = s.node AND d.node_start_ts = s.node_start_ts AND d.seg_start_ts = s.seg_start_ts
),
exact AS (
    SELECT *,
           cost_usd_micros * weight / sum(weight) OVER seg AS exact_micros
    FROM weights
    WHERE weight > 0
    WINDOW seg AS (PARTITION BY cluster, node, node_start_ts, seg_start_ts)
),
rounded AS (
    SELECT *,
           CAST(floor(exact_micros) AS BIGINT) AS base_micros,
           cost_usd_micros - sum(CAST(floor(exact_micros) AS BIGINT)) OVER seg AS short_micros,
           row_number() OVER (PARTITION BY cluster, node, node_start_ts, seg_start_ts
                              ORDER BY exact_micros - floor(exact_micros) DESC, namespace, pod) AS remainder_rank
    FROM exact
    WINDOW seg AS (PARTITION BY cluster, node, node_start_ts, seg_start_ts)
),
per_pod AS (
    SELECT hour_start, hour_end, cluster, node, namespace, pod,
           sum(weight) / 3600000.0 AS gpu_hours,
           sum(base_micros + CASE WHEN remainder_rank <= short_micros THEN 1 ELSE 0 END) AS gpu_cost_usd_micros
    FROM rounded
    GROUP BY hour_start, hour_end, cluster, node, namespace, pod
),
node_facts AS (
    SELECT cluster, node, hour_start, any_value(nodepool) AS nodepool, any_value(instance_type) AS instance_type,
           any_value(capacity_type) AS capacity_type, any_value(gpu_model) AS gpu_model
    FROM alloc_node_segments
    GROUP BY cluster, node, hour_start
),
pod_util AS (
    SELECT date_trunc('hour', ts) AS hour_start, cluster, node, namespace, pod, avg(util_pct) AS util_pct
    FROM gpu_samples
    WHERE ts >= $start AND ts < $end AND pod IS NOT NULL
    GROUP BY date_trunc('hour', ts), cluster, node, namespace, pod
)
SELECT pp.hour_start AS window_start_ts, pp.hour_end AS window_end_ts, pp.cluster,
       nf.nodepool, pp.node, nf.instance_type, nf.capacity_type, nf.gpu_model,
       pp.namespace, pp.pod,
       CASE WHEN pp.pod = '__idle__' THEN '__idle__'
            ELSE coalesce(pl.value, nl.value, '__unallocated__') END AS team,
       CASE WHEN pp.pod = '__idle__' THEN '' ELSE coalesce(ml.value, '') END AS model,
       pp.gpu_hours,
       CASE WHEN pp.pod = '__idle__' THEN NULL ELSE pp.gpu_hours * pu.util_pct / 100.0 END AS gpu_hours_used,
       pp.gpu_cost_usd_micros
FROM per_pod pp
JOIN node_facts nf ON nf.cluster = pp.cluster AND nf.node = pp.node AND nf.hour_start = pp.hour_start
LEFT JOIN pod_labels pl ON pl.cluster = pp.cluster AND pl.namespace = pp.namespace AND pl.pod = pp.pod AND pl.key = 'team'
LEFT JOIN namespace_labels nl ON nl.cluster = pp.cluster AND nl.namespace = pp.namespace AND nl.key = 'team'
LEFT JOIN pod_labels ml ON ml.cluster = pp.cluster AND ml.namespace = pp.namespace AND ml.pod = pp.pod AND ml.key = 'model'
LEFT JOIN pod_util pu
  ON pu.hour_start = pp.hour_start AND pu.cluster = pp.cluster AND pu.node = pp.node
 AND pu.namespace = pp.namespace AND pu.pod = pp.pod;
