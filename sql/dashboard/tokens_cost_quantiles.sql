-- tokens_cost_quantiles: summary of GPU cost per session / user / trace (see
-- tokens_cost_histogram.sql for how a unit's cost is spread from GPU cost) next to LangFuse's cost.
-- Grain: one row. Inputs: allocation, llm_observations.
-- Parameters: $start, $end (half-open UTC), $tenant (scope), $clusters, $teams (VARCHAR[]),
--   $grain ('session' | 'user' | 'trace').
-- Output: units, p50_usd_micros, p90_usd_micros, p99_usd_micros, max_usd_micros, mean_usd_micros,
--   list_mean_usd_micros (LangFuse cost per unit), mean_tokens. Micro-dollars rounded to BIGINT.
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
obs AS (
    SELECT o.*, o.input_tokens + o.output_tokens AS tokens
    FROM llm_observations o
    WHERE o.start_ts >= $start AND o.start_ts < $end AND o.model IS NOT NULL
      AND ($tenant IS NULL OR o.tenant = $tenant)
      AND (len($teams) = 0 OR list_contains($teams, o.tenant))
),
rate AS (
    -- micro-dollars of GPU per token, per (model, deployment)
    SELECT g.model, g.deployment, g.gpu_cost_usd_micros / nullif(sum(o.tokens), 0) AS micros_per_token
    FROM gpu g JOIN obs o ON o.model = g.model AND o.deployment = g.deployment
    GROUP BY g.model, g.deployment, g.gpu_cost_usd_micros
),
units AS (
    SELECT CASE $grain WHEN 'session' THEN o.session_id WHEN 'user' THEN o.user_id ELSE o.trace_id END AS unit,
           sum(o.tokens * r.micros_per_token) AS gpu_usd_micros,
           sum(o.langfuse_cost_usd_micros) AS list_usd_micros,
           sum(o.tokens) AS tokens
    FROM obs o JOIN rate r ON r.model = o.model AND r.deployment = o.deployment
    GROUP BY 1
    HAVING unit IS NOT NULL AND sum(o.tokens * r.micros_per_token) > 0
)
SELECT count(*) AS units,
       CAST(round(quantile_cont(gpu_usd_micros, 0.5)) AS BIGINT) AS p50_usd_micros,
       CAST(round(quantile_cont(gpu_usd_micros, 0.9)) AS BIGINT) AS p90_usd_micros,
       CAST(round(quantile_cont(gpu_usd_micros, 0.99)) AS BIGINT) AS p99_usd_micros,
       CAST(round(max(gpu_usd_micros)) AS BIGINT) AS max_usd_micros,
       CAST(round(avg(gpu_usd_micros)) AS BIGINT) AS mean_usd_micros,
       CAST(round(avg(list_usd_micros)) AS BIGINT) AS list_mean_usd_micros,
       avg(tokens) AS mean_tokens
FROM units;
