-- Stored samples of the series being reloaded that lie on another step's grid, inside the time the
-- reloaded samples stand for. When the collector's step changes between runs (a scrape interval
-- detected anew, a changed [prometheus] step), the re-fetched overlap would otherwise be stored on
-- both grids and its time counted twice. Runs in the chunk's transaction, before its upsert.
-- Parameters: $sample_ms (the chunk's step). Relation: reloaded_series (cluster, node, gpu_uuid,
-- mig_instance_id, first_ts, last_ts), the chunk's series and their first and last sample.
DELETE FROM gpu_samples
USING reloaded_series r
WHERE gpu_samples.cluster = r.cluster
  AND gpu_samples.node = r.node
  AND gpu_samples.gpu_uuid = r.gpu_uuid
  AND gpu_samples.mig_instance_id = r.mig_instance_id
  AND gpu_samples.sample_ms IS DISTINCT FROM $sample_ms
  AND gpu_samples.ts > r.first_ts - to_milliseconds($sample_ms)
  AND gpu_samples.ts <= r.last_ts
