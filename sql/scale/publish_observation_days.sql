-- publish_observation_days: the llm_observations partitions (date=) holding rows of a window.
-- Grain: one row per date. Inputs: llm_observations.
-- Parameters: $start, $end (TIMESTAMPTZ, half-open window; NULL = unbounded on that side).
-- Output: date (VARCHAR 'YYYY-MM-DD', the UTC date of start_ts, as the folder name).
SELECT DISTINCT strftime(timezone('UTC', start_ts), '%Y-%m-%d') AS date
FROM llm_observations
WHERE ($start IS NULL OR start_ts >= $start) AND ($end IS NULL OR start_ts < $end)
ORDER BY date;
