-- 003_allocation_components: what the full allocation engine records beyond request-based GPU cost.
-- gpu_hours becomes the charged GPU-hours (requested, or max(requested, used) in usage mode);
-- gpu_hours_requested keeps the request; other_cost_usd_micros is the part of gpu_cost_usd_micros
-- that is the non-GPU (CPU/RAM) share of the node cost when allocate.gpu_cost_share < 1. Runs record the mode and share they used.
ALTER TABLE allocation ADD COLUMN gpu_hours_requested DOUBLE DEFAULT 0;
ALTER TABLE allocation ADD COLUMN other_cost_usd_micros BIGINT DEFAULT 0;
ALTER TABLE allocation_runs ADD COLUMN mode VARCHAR DEFAULT 'request';
ALTER TABLE allocation_runs ADD COLUMN gpu_cost_share DOUBLE DEFAULT 1.0;

-- Relative throughput of a GPU model against an A100 (seeded from sql/seeds/gpu_throughput.csv),
-- for "A100-equivalent GPU-hours" so teams on different generations can be compared.
CREATE TABLE IF NOT EXISTS gpu_throughput (
    gpu_model       VARCHAR NOT NULL PRIMARY KEY,  -- as in nodes.gpu_model (A100, H100, A10G, ...)
    bf16_tflops     DOUBLE  NOT NULL,              -- dense BF16/FP16 tensor TFLOPS, vendor data sheet
    a100_equivalent DOUBLE  NOT NULL               -- bf16_tflops / 312 (A100 SXM)
);
