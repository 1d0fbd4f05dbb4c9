-- token_rates: GPU cost of the pods serving each model (or deployment) in a window, spread over
-- the tokens LangFuse recorded for it, with input and output tokens weighted.
-- Matching rule: $match = 'model' joins pod label `model` to llm_observations.model;
-- $match = 'deployment' joins the pod label named $deployment_label to llm_observations.deployment.
-- Scope (the dashboard's tenant view and filters; the CLI binds NULL, [], []): $tenant keeps one
-- team's allocation rows and that tenant's observations, $clusters limits allocation rows,
-- $teams limits both sides.
-- Grain: one row per serving key. Inputs: allocation, pod_labels, llm_observations.
-- Parameters: $start, $end, $match, $deployment_label, $w_in, $w_out (token weights), $tenant,
--   $clusters, $teams.
-- Output: serving_key, gpu_cost_usd_micros, input_tokens, output_tokens, requests,
--   usd_per_1m_input, usd_per_1m_output, usd_per_1m_tokens (blended, unweighted),
--   list_usd_per_1m_tokens (LangFuse's own cost where it reported one), usd_micros_per_weighted_token,
--   list_usd_micros (LangFuse's cost in all, BIGINT, NULL when it reported none).
WITH serving AS (
    SELECT CASE WHEN $match = 'model' THEN nullif(a.model, '') ELSE l.value END AS serving_key,
           a.gpu_cost_usd_micros AS cost_usd_micros
    FROM allocation a
    LEFT JOIN pod_labels l
      ON $match = 'deployment' AND l.cluster = a.cluster AND l.namespace = a.namespace AND l.pod = a.pod
     AND l.key = $deployment_label
    WHERE a.window_start_ts >= $start AND a.window_start_ts < $end AND a.pod <> '__idle__'
      AND ($tenant IS NULL OR a.team = $tenant)
      AND (len($clusters) = 0 OR list_contains($clusters, a.cluster))
      AND (len($teams) = 0 OR list_contains($teams, a.team))
),
gpu AS (
    SELECT serving_key, sum(cost_usd_micros) AS gpu_cost_usd_micros
    FROM serving WHERE serving_key IS NOT NULL GROUP BY serving_key
),
tok AS (
    SELECT CASE WHEN $match = 'model' THEN model ELSE deployment END AS serving_key,
           sum(input_tokens) AS input_tokens, sum(output_tokens) AS output_tokens, count(*) AS requests,
           sum(langfuse_cost_usd_micros) AS list_usd_micros,
           sum(CASE WHEN langfuse_cost_usd_micros IS NOT NULL THEN input_tokens + output_tokens END) AS list_tokens
    FROM llm_observations
    WHERE start_ts >= $start AND start_ts < $end
      AND ($tenant IS NULL OR tenant = $tenant)
      AND (len($teams) = 0 OR list_contains($teams, tenant))
    GROUP BY 1
),
joined AS (
    SELECT g.serving_key, g.gpu_cost_usd_micros,
           coalesce(t.input_tokens, 0) AS input_tokens, coalesce(t.output_tokens, 0) AS output_tokens,
           coalesce(t.requests, 0) AS requests, t.list_usd_micros, t.list_tokens,
           CAST(g.gpu_cost_usd_micros AS DOUBLE)
               / nullif(t.input_tokens * $w_in + t.output_tokens * $w_out, 0) AS per_weighted_token
    FROM gpu g
    LEFT JOIN tok t ON t.serving_key = g.serving_key
)
SELECT serving_key, CAST(gpu_cost_usd_micros AS BIGINT) AS gpu_cost_usd_micros, input_tokens, output_tokens, requests,
       per_weighted_token * $w_in AS usd_per_1m_input,
       per_weighted_token * $w_out AS usd_per_1m_output,
       gpu_cost_usd_micros / nullif(input_tokens + output_tokens, 0) AS usd_per_1m_tokens,
       list_usd_micros / nullif(list_tokens, 0) AS list_usd_per_1m_tokens,
       per_weighted_token AS usd_micros_per_weighted_token,
       CAST(list_usd_micros AS BIGINT) AS list_usd_micros
FROM joined
ORDER BY gpu_cost_usd_micros DESC, serving_key;
