-- set_watermark: advance (never rewind) the point up to which a source/series is complete.
-- Parameters: $source, $series, $until (exclusive end of loaded data), $now.
INSERT INTO watermarks (source, series, loaded_until_ts, updated_ts)
VALUES ($source, $series, $until, $now)
ON CONFLICT (source, series) DO UPDATE SET
    loaded_until_ts = greatest(watermarks.loaded_until_ts, excluded.loaded_until_ts),
    updated_ts = excluded.updated_ts;
