-- cost_per_token_by_model: GPU dollars of the pods serving a model (pod label `model`) over the
-- tokens LangFuse recorded for that model, next to LangFuse's own list-price cost.
-- Grain: one row per model. Inputs: allocation, llm_observations. Parameters: $start, $end.
-- Output: model, gpu_cost_usd_micros, input_tokens, output_tokens, requests,
--   usd_per_1m_tokens (GPU cost per 1M input+output tokens), list_usd_per_1m_tokens (LangFuse
--   cost per 1M tokens where LangFuse reported a cost; NULL otherwise).
WITH gpu AS (
    SELECT model, sum(gpu_cost_usd_micros) AS gpu_cost_usd_micros
    FROM allocation
    WHERE window_start_ts >= $start AND window_start_ts < $end AND model <> ''
    GROUP BY model
),
tok AS (
    SELECT model, sum(input_tokens) AS input_tokens, sum(output_tokens) AS output_tokens, count(*) AS requests,
           sum(langfuse_cost_usd_micros) AS list_usd_micros,
           sum(CASE WHEN langfuse_cost_usd_micros IS NOT NULL THEN total_tokens END) AS list_priced_tokens
    FROM llm_observations
    WHERE start_ts >= $start AND start_ts < $end
    GROUP BY model
)
SELECT g.model, CAST(g.gpu_cost_usd_micros AS BIGINT) AS gpu_cost_usd_micros,
       coalesce(t.input_tokens, 0) AS input_tokens, coalesce(t.output_tokens, 0) AS output_tokens,
       coalesce(t.requests, 0) AS requests,
       g.gpu_cost_usd_micros / nullif(t.input_tokens + t.output_tokens, 0) AS usd_per_1m_tokens,
       t.list_usd_micros / nullif(t.list_priced_tokens, 0) AS list_usd_per_1m_tokens
FROM gpu g
LEFT JOIN tok t ON t.model = g.model
ORDER BY g.gpu_cost_usd_micros DESC;
