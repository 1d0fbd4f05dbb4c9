-- scope/pod_labels: labels of the pods the session's tenant has allocation rows for (all when
-- $tenant is NULL); shadows `pod_labels`. `allocation` here is the scoped relation.
SELECT l.* FROM pod_labels l
WHERE $tenant IS NULL
   OR EXISTS (SELECT 1 FROM allocation a
              WHERE a.cluster = l.cluster AND a.namespace = l.namespace AND a.pod = l.pod)
