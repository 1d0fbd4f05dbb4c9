-- token_cost_by: each LangFuse generation priced at its model's GPU cost per weighted token in
-- the window (token_rates), summed per trace, session, user or tenant. The amounts of one model
-- add up to that model's GPU cost (as exact fractions; shown rounded).
-- Grain: one row per $level value. Inputs: llm_observations, alloc_token_rates (token_rates.sql
-- materialised by the caller). Parameters: $start, $end, $level (trace | session | user | tenant),
-- $match, $w_in, $w_out, $limit, and token_rates' scope ($tenant, $teams also limit the
-- observations here).
-- Output: key, requests, input_tokens, output_tokens, gpu_cost_usd (DOUBLE dollars), list_cost_usd.
SELECT CASE $level WHEN 'trace' THEN o.trace_id WHEN 'session' THEN o.session_id
                   WHEN 'user' THEN o.user_id ELSE o.tenant END AS key,
       count(*) AS requests,
       sum(o.input_tokens) AS input_tokens,
       sum(o.output_tokens) AS output_tokens,
       sum((o.input_tokens * $w_in + o.output_tokens * $w_out) * r.usd_micros_per_weighted_token) / 1e6 AS gpu_cost_usd,
       sum(o.langfuse_cost_usd_micros) / 1e6 AS list_cost_usd
FROM llm_observations o
JOIN alloc_token_rates r
  ON r.serving_key = CASE WHEN $match = 'model' THEN o.model ELSE o.deployment END
WHERE o.start_ts >= $start AND o.start_ts < $end
  AND ($tenant IS NULL OR o.tenant = $tenant)
  AND (len($teams) = 0 OR list_contains($teams, o.tenant))
GROUP BY 1
ORDER BY gpu_cost_usd DESC NULLS LAST, key
LIMIT $limit;
