-- tokens_by_model: real GPU $ per 1M tokens by model and deployment (GPU cost of the pods
-- serving it; deployment = pod name without its 5-character suffix) next to LangFuse's
-- list-price cost per 1M tokens.
-- Grain: one row per (model, deployment). Inputs: allocation, llm_observations.
-- Parameters: $start, $end (half-open UTC), $tenant (scope: allocation.team and
--   llm_observations.tenant), $clusters (allocation only), $teams (VARCHAR[]).
-- Output: model, deployment, gpu_cost_usd_micros, input_tokens, output_tokens, tokens, requests,
--   langfuse_cost_usd_micros, gpu_usd_per_1m_tokens, list_usd_per_1m_tokens (DOUBLE; micro-dollars
--   per token = dollars per 1M tokens), gpu_over_list_ratio.
WITH gpu AS (
    SELECT a.model, regexp_replace(a.pod, '-[a-z0-9]{5}$', '') AS deployment,
           sum(a.gpu_cost_usd_micros) AS gpu_cost_usd_micros
    FROM allocation a
    WHERE a.window_start_ts >= $start AND a.window_start_ts < $end AND a.model <> ''
      AND ($tenant IS NULL OR a.team = $tenant)
      AND (len($clusters) = 0 OR list_contains($clusters, a.cluster))
      AND (len($teams) = 0 OR list_contains($teams, a.team))
    GROUP BY ALL
),
tok AS (
    SELECT o.model, o.deployment,
           sum(o.input_tokens) AS input_tokens, sum(o.output_tokens) AS output_tokens, count(*) AS requests,
           sum(o.langfuse_cost_usd_micros) AS langfuse_cost_usd_micros,
           sum(o.input_tokens + o.output_tokens) FILTER (WHERE o.langfuse_cost_usd_micros IS NOT NULL) AS priced_tokens
    FROM llm_observations o
    WHERE o.start_ts >= $start AND o.start_ts < $end AND o.model IS NOT NULL
      AND ($tenant IS NULL OR o.tenant = $tenant)
      AND (len($teams) = 0 OR list_contains($teams, o.tenant))
    GROUP BY ALL
)
SELECT coalesce(g.model, t.model) AS model, coalesce(g.deployment, t.deployment, '') AS deployment,
       CAST(coalesce(g.gpu_cost_usd_micros, 0) AS BIGINT) AS gpu_cost_usd_micros,
       coalesce(t.input_tokens, 0) AS input_tokens, coalesce(t.output_tokens, 0) AS output_tokens,
       coalesce(t.input_tokens + t.output_tokens, 0) AS tokens,
       coalesce(t.requests, 0) AS requests,
       CAST(t.langfuse_cost_usd_micros AS BIGINT) AS langfuse_cost_usd_micros,
       g.gpu_cost_usd_micros / nullif(t.input_tokens + t.output_tokens, 0) AS gpu_usd_per_1m_tokens,
       t.langfuse_cost_usd_micros / nullif(t.priced_tokens, 0) AS list_usd_per_1m_tokens,
       (g.gpu_cost_usd_micros / nullif(t.input_tokens + t.output_tokens, 0))
           / nullif(t.langfuse_cost_usd_micros / nullif(t.priced_tokens, 0), 0) AS gpu_over_list_ratio
FROM gpu g
FULL OUTER JOIN tok t ON t.model = g.model AND t.deployment = g.deployment
ORDER BY gpu_cost_usd_micros DESC, model, deployment;
