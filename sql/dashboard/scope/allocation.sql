-- scope/allocation: the allocation rows a dashboard session may see: one tenant's (team) rows,
-- or every row when $tenant is NULL (fleet view). Put in front of every dashboard query as a CTE
-- named `allocation`, so inside the query the name means this relation (dashboards/scope.py).
-- Idle capacity rows (team '__idle__') are fleet data: a tenant does not see them.
SELECT * FROM allocation WHERE $tenant IS NULL OR team = $tenant
