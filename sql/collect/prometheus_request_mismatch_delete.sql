-- prometheus_request_mismatch_delete: drop `request-mismatch` gaps a merge folded into an earlier
-- one. Input: registered relation _prom_drop (series, start_ts = gap_start_ts).
DELETE FROM collection_gaps
WHERE source = 'prometheus' AND kind = 'request-mismatch'
  AND (series, gap_start_ts) IN (SELECT series, start_ts FROM _prom_drop);
