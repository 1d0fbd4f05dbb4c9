-- report_keys: allocation rows in a window, each keyed by the tenant it is reported under
-- ($by; '__idle__' for idle capacity, '__unallocated__' when the key is missing) and by the
-- scope its idle is shared in ($scope). report_by.sql reads it twice: as `report_rows` (the rows
-- reported) and as `idle_share_rows` (the rows idle is shared over, idle_shares.sql); in the
-- dashboard's tenant view only the second one reads the whole fleet.
-- Grain: one allocation row. Inputs: allocation, pod_labels, namespace_labels.
-- Parameters: $start, $end (hour-aligned window), $by, $label_key, $scope, $clusters (VARCHAR[]).
-- Output: every allocation column, tenant, share_scope.
SELECT a.*,
       CASE WHEN a.pod = '__idle__' THEN '__idle__'
            ELSE coalesce(CASE $by
                    WHEN 'team' THEN a.team
                    WHEN 'namespace' THEN a.namespace
                    WHEN 'nodepool' THEN nullif(a.nodepool, '')
                    WHEN 'cluster' THEN a.cluster
                    WHEN 'model' THEN nullif(a.model, '')
                    WHEN 'label' THEN coalesce(pl.value, nl.value)
                 END, '__unallocated__') END AS tenant,
       CASE WHEN $scope = 'nodepool' THEN a.cluster || '/' || a.nodepool ELSE a.cluster END AS share_scope
FROM allocation a
LEFT JOIN pod_labels pl
  ON $by = 'label' AND pl.cluster = a.cluster AND pl.namespace = a.namespace AND pl.pod = a.pod AND pl.key = $label_key
LEFT JOIN namespace_labels nl
  ON $by = 'label' AND nl.cluster = a.cluster AND nl.namespace = a.namespace AND nl.key = $label_key
WHERE a.window_start_ts >= $start AND a.window_start_ts < $end
  AND (len($clusters) = 0 OR list_contains($clusters, a.cluster))
