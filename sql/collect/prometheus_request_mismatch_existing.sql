-- prometheus_request_mismatch_existing: stored `request-mismatch` gaps a new chunk may extend.
-- Grain: (series, gap_start_ts). Inputs: collection_gaps, registered relation _prom_keys (series)
-- of the series with a mismatch in the chunk. Parameters: $since (TIMESTAMPTZ): gaps ending at or
-- after it. Output: series, start_ts (= gap_start_ts), end_ts (= gap_end_ts), TIMESTAMPTZ UTC.
SELECT g.series, g.gap_start_ts AS start_ts, g.gap_end_ts AS end_ts
FROM collection_gaps AS g
WHERE g.source = 'prometheus' AND g.kind = 'request-mismatch' AND g.gap_end_ts >= $since
  AND g.series IN (SELECT series FROM _prom_keys)
ORDER BY g.series, g.gap_start_ts
