-- tokens_cost_distribution: GPU cost per session / user / trace, priced exactly as
-- `costlab tokens --by session|user|trace` (allocate/token_cost_by.sql): each generation costs
-- its weighted tokens x its serving key's GPU $ per weighted token (alloc_token_rates, which
-- the caller puts in front as a CTE: costlab.allocate.tokens.with_token_rates); as log10
-- histogram bins, each row also carrying the summary over all units (one query, so the bins and
-- the summary agree).
-- Grain: one row per log bin. Inputs: alloc_token_rates, llm_observations.
-- Parameters: token_rates' ($start, $end, $match, $deployment_label, $w_in, $w_out, $tenant,
--   $clusters, $teams) and $grain ('session' | 'user' | 'trace').
-- Output: bin_lo_usd, bin_hi_usd (DOUBLE, bin edges in USD), bin_units (count),
--   bin_gpu_usd_micros (sum, DOUBLE: a spread estimate, not a ledger amount); the same on every
--   row: units, p50/p90/p99/max/mean_usd_micros, list_mean_usd_micros (LangFuse cost per unit),
--   mean_tokens. Summary micro-dollars rounded to BIGINT.
WITH units AS (
    SELECT CASE $grain WHEN 'session' THEN o.session_id WHEN 'user' THEN o.user_id ELSE o.trace_id END AS unit,
           sum((o.input_tokens * $w_in + o.output_tokens * $w_out) * r.usd_micros_per_weighted_token) AS gpu_usd_micros,
           sum(o.langfuse_cost_usd_micros) AS list_usd_micros,
           sum(o.input_tokens + o.output_tokens) AS tokens
    FROM llm_observations o
    JOIN alloc_token_rates r
      ON r.serving_key = CASE WHEN $match = 'model' THEN o.model ELSE o.deployment END
    WHERE o.start_ts >= $start AND o.start_ts < $end
      AND ($tenant IS NULL OR o.tenant = $tenant)
      AND (len($teams) = 0 OR list_contains($teams, o.tenant))
    GROUP BY 1
    HAVING unit IS NOT NULL AND gpu_usd_micros > 0
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
