-- tokens_daily: tokens over time per model (hourly buckets when the window is <= 3 days, else daily).
-- Grain: one row per (bucket_ts, model). Inputs: llm_observations.
-- Parameters: $start, $end (half-open UTC), the tenant scope (sql/dashboard/scope/), $teams (VARCHAR[]), $bucket_hours.
-- Output: bucket_ts (UTC), model, input_tokens, output_tokens, tokens, requests.
SELECT time_bucket(to_hours(CAST($bucket_hours AS BIGINT)), o.start_ts, TIMESTAMPTZ '2000-01-03 00:00:00+00') AS bucket_ts,
       coalesce(o.model, 'unknown') AS model,
       sum(o.input_tokens) AS input_tokens, sum(o.output_tokens) AS output_tokens,
       sum(o.input_tokens + o.output_tokens) AS tokens, count(*) AS requests
FROM llm_observations o
WHERE o.start_ts >= $start AND o.start_ts < $end
  AND (len($teams) = 0 OR list_contains($teams, o.tenant))
GROUP BY ALL
ORDER BY bucket_ts, model;
