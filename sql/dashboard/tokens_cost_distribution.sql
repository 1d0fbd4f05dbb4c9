-- tokens_cost_distribution: GPU cost per session / user / trace: each model's GPU cost (per
-- deployment) spread over its tokens, summed per unit; as log10 histogram bins, each row also
-- carrying the summary over all units (one query, so the bins and the summary agree).
-- Grain: one row per log bin. Inputs: allocation, llm_observations.
-- Parameters: $start, $end (half-open UTC), $tenant (scope), $clusters, $teams (VARCHAR[]),
--   $grain ('session' | 'user' | 'trace').
-- Output: bin_lo_usd, bin_hi_usd (DOUBLE, bin edges in USD), bin_units (count),
--   bin_gpu_usd_micros (sum, DOUBLE: a spread estimate, not a ledger amount); the same on every
--   row: units, p50/p90/p99/max/mean_usd_micros, list_mean_usd_micros (LangFuse cost per unit),
--   mean_tokens. Summary micro-dollars rounded to BIGINT.
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
),
summary AS (
    SELECT count(*) AS units,
           CAST(round(quantile_cont(gpu_usd_micros, 0.5)) AS BIGINT) AS p50_usd_micros,
           CAST(round(quantile_cont(gpu_usd_micros, 0.9)) AS BIGINT) AS p90_usd_micros,
           CAST(round(quantile_cont(gpu_usd_micros, 0.99)) AS BIGINT) AS p99_usd_micros,
           CAST(round(max(gpu_usd_micros)) AS BIGINT) AS max_usd_micros,
           CAST(round(avg(gpu_usd_micros)) AS BIGINT) AS mean_usd_micros,
           CAST(round(avg(list_usd_micros)) AS BIGINT) AS list_mean_usd_micros,
           avg(tokens) AS mean_tokens
    FROM units
),
bins AS (
    SELECT power(10, floor(log10(gpu_usd_micros / 1e6) * 4) / 4) AS bin_lo_usd,
           power(10, (floor(log10(gpu_usd_micros / 1e6) * 4) + 1) / 4) AS bin_hi_usd,
           count(*) AS bin_units,
           sum(gpu_usd_micros) AS bin_gpu_usd_micros
    FROM units
    GROUP BY 1, 2
)
SELECT b.*, s.*
FROM bins b CROSS JOIN summary s
ORDER BY b.bin_lo_usd;
