-- batch_coverage: the span of the allocation table, used to pick the default report period
-- (last complete month, else last complete ISO week) and to flag partial periods.
-- Grain: one row. Inputs: allocation. Parameters: none.
-- Output: first_ts (earliest hour bucket start, TIMESTAMPTZ), last_ts (latest hour bucket end),
--   hours (distinct hour buckets with rows).
SELECT min(window_start_ts) AS first_ts, max(window_end_ts) AS last_ts,
       count(DISTINCT window_start_ts) AS hours
FROM allocation;
