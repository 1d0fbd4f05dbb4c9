-- tokens_cost_distribution: GPU cost per session / user / trace as `costlab tokens --by` gives
-- it (allocate/token_cost_by.sql, each generation priced at its serving key's GPU rate from
-- allocate/token_rates.sql), as log10 histogram bins, each row also carrying the summary over all
-- units (one query, so the bins and the summary agree).
-- Grain: one row per log bin. Inputs: token_unit_costs (token_cost_by.sql, put in front as a CTE
-- by the caller together with alloc_token_rates: see dashboards/queries.py).
-- Parameters: those of token_rates.sql and token_cost_by.sql ($level = 'session' | 'user' |
--   'trace', $limit NULL); the tenant scope (sql/dashboard/scope/)
--   shadows both inputs.
-- Output: bin_lo_usd, bin_hi_usd (DOUBLE, bin edges in USD), bin_units (count),
--   bin_gpu_usd_micros (sum, DOUBLE: a spread estimate, not a ledger amount); the same on every
--   row: units, p50/p90/p99/max/mean_usd_micros, list_mean_usd_micros (LangFuse cost per unit),
--   mean_tokens. Summary micro-dollars rounded to BIGINT.
WITH units AS (
    SELECT key AS unit, gpu_cost_usd * 1e6 AS gpu_usd_micros, list_cost_usd * 1e6 AS list_usd_micros,
           input_tokens + output_tokens AS tokens
    FROM token_unit_costs
    WHERE key IS NOT NULL AND gpu_cost_usd > 0
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
