-- prometheus_node_notice_delete: drop `node-without-karpenter-labels` notices of node intervals
-- that a merge folded into another one or that now have their attributes (Karpenter or
-- kube_node_labels reported the node). Input: registered relation _prom_drop (cluster, node,
-- start_ts); a notice's series is kube_node_labels{cluster="<cluster>",node="<node>"} and its
-- gap_start_ts the interval's start_ts (costlab/collect/prometheus/nodes.py: notice_series).
DELETE FROM collection_gaps
WHERE source = 'prometheus' AND kind = 'node-without-karpenter-labels'
  AND (series, gap_start_ts) IN (
      SELECT 'kube_node_labels{cluster="' || cluster || '",node="' || node || '"}', start_ts
      FROM _prom_drop
  );
