-- publish_watermarks: a source's watermarks, the publish cursor compares them between publishes.
-- Grain: one row per series. Inputs: watermarks.
-- Parameters: $source (VARCHAR).
-- Output: series (VARCHAR), loaded_until_ts (TIMESTAMPTZ).
SELECT series, loaded_until_ts FROM watermarks WHERE source = $source ORDER BY series;
