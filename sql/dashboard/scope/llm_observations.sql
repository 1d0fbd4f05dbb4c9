-- scope/llm_observations: the LangFuse generations of the session's tenant (all when $tenant is
-- NULL); shadows `llm_observations` in every dashboard query (dashboards/scope.py).
SELECT * FROM llm_observations WHERE $tenant IS NULL OR tenant = $tenant
