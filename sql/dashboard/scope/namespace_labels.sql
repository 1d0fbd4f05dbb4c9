-- scope/namespace_labels: labels of the namespaces the session's tenant has allocation rows in
-- (all when $tenant is NULL); shadows `namespace_labels`. `allocation` here is the scoped relation.
SELECT l.* FROM namespace_labels l
WHERE $tenant IS NULL
   OR EXISTS (SELECT 1 FROM allocation a WHERE a.cluster = l.cluster AND a.namespace = l.namespace)
