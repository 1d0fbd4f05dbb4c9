-- 005_sample_interval: each GPU sample carries the time it stands for (the collector's query step
-- or scrape interval), so "GPU time used" is a plain sum over samples: exact when scrapes are
-- missing (a missing sample simply adds nothing) and needing no per-series sort.
ALTER TABLE gpu_samples ADD COLUMN sample_ms INTEGER;
