-- 008_allocation_cost_parts: an allocation row stores the parts of its charge, the GPU part
-- (gpu_part_usd_micros: its share of the node cost's GPU part) and the CPU/RAM part
-- (other_cost_usd_micros, non-zero when allocate.gpu_cost_share < 1); the charge itself,
-- gpu_cost_usd_micros, is derived from them (a virtual generated column), so the total can never
-- disagree with its parts and every reader keeps summing one column. DuckDB cannot add a
-- generated column to a table: it is rebuilt with the same columns, the stored total becoming
-- its GPU part (total - other part) for rows written before this migration.
CREATE TABLE allocation_parts (
    window_start_ts       TIMESTAMPTZ,
    window_end_ts         TIMESTAMPTZ,
    cluster               VARCHAR,
    nodepool              VARCHAR,
    node                  VARCHAR,
    instance_type         VARCHAR,
    capacity_type         VARCHAR,
    gpu_model             VARCHAR,
    namespace             VARCHAR,
    pod                   VARCHAR,
    team                  VARCHAR,
    model                 VARCHAR,
    gpu_hours             DOUBLE,
    gpu_hours_used        DOUBLE,
    gpu_part_usd_micros   BIGINT NOT NULL,
    gpu_hours_requested   DOUBLE DEFAULT 0,
    other_cost_usd_micros BIGINT NOT NULL DEFAULT 0,
    gpu_cost_usd_micros   BIGINT GENERATED ALWAYS AS (gpu_part_usd_micros + other_cost_usd_micros) VIRTUAL
);
INSERT INTO allocation_parts BY NAME
SELECT * EXCLUDE (gpu_cost_usd_micros, other_cost_usd_micros),
       gpu_cost_usd_micros - coalesce(other_cost_usd_micros, 0) AS gpu_part_usd_micros,
       coalesce(other_cost_usd_micros, 0) AS other_cost_usd_micros
FROM allocation;
DROP TABLE allocation;
ALTER TABLE allocation_parts RENAME TO allocation;
