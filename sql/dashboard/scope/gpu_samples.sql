-- scope/gpu_samples: DCGM samples of the pods the session's tenant has allocation rows for (all
-- samples when $tenant is NULL, unassigned GPUs included); shadows `gpu_samples` in every
-- dashboard query. `allocation` here is already the scoped relation (scope/allocation.sql).
SELECT g.* FROM gpu_samples g
WHERE $tenant IS NULL
   OR EXISTS (SELECT 1 FROM allocation a
              WHERE a.cluster = g.cluster AND a.namespace = g.namespace AND a.pod = g.pod)
