-- 001_init: the raw tables collectors write, bookkeeping for collection, and the engine's output.
-- Units are in column names: _ts = UTC TIMESTAMPTZ, _usd_micros = integer micro-dollars (1e-6 USD),
-- _mib = mebibytes, _pct = percent 0-100, _ratio = 0-1. Intervals are half-open [start_ts, end_ts).
-- Documented column by column in docs/data-model.md.

-- One row per GPU (or MIG instance) per scrape, from the DCGM exporter.
CREATE TABLE IF NOT EXISTS gpu_samples (
    ts                  TIMESTAMPTZ NOT NULL,
    cluster             VARCHAR     NOT NULL,
    node                VARCHAR     NOT NULL,
    gpu_index           INTEGER     NOT NULL,   -- DCGM label `gpu`
    gpu_uuid            VARCHAR     NOT NULL,   -- DCGM label `UUID`
    mig_instance_id     INTEGER     NOT NULL DEFAULT -1,  -- DCGM `GPU_I_ID`; -1 = whole GPU (no MIG)
    mig_profile         VARCHAR,                -- DCGM `GPU_I_PROFILE`, e.g. '1g.10gb'
    model_name          VARCHAR,                -- DCGM `modelName`
    namespace           VARCHAR,                -- set when dcgm-exporter maps GPUs to pods
    pod                 VARCHAR,
    container           VARCHAR,
    util_pct            DOUBLE,                 -- DCGM_FI_DEV_GPU_UTIL, 0-100
    fb_used_mib         DOUBLE,                 -- DCGM_FI_DEV_FB_USED
    fb_free_mib         DOUBLE,                 -- DCGM_FI_DEV_FB_FREE
    power_w             DOUBLE,                 -- DCGM_FI_DEV_POWER_USAGE
    temp_c              DOUBLE,                 -- DCGM_FI_DEV_GPU_TEMP
    engine_active_ratio DOUBLE,                 -- DCGM_FI_PROF_GR_ENGINE_ACTIVE, 0-1
    PRIMARY KEY (cluster, node, gpu_uuid, mig_instance_id, ts)
);

-- Node lifetimes, from Karpenter / kube-state-metrics presence.
CREATE TABLE IF NOT EXISTS nodes (
    cluster        VARCHAR     NOT NULL,
    node           VARCHAR     NOT NULL,
    start_ts       TIMESTAMPTZ NOT NULL,
    end_ts         TIMESTAMPTZ,                 -- NULL while the node is alive
    end_reason     VARCHAR,                     -- consolidated | interrupted | expired | drifted | deleted | unknown
    nodepool       VARCHAR,
    instance_type  VARCHAR     NOT NULL,
    capacity_type  VARCHAR     NOT NULL CHECK (capacity_type IN ('spot', 'on-demand', 'reserved')),
    region         VARCHAR     NOT NULL,
    zone           VARCHAR,
    gpu_count      INTEGER     NOT NULL CHECK (gpu_count >= 0),
    gpu_model      VARCHAR,
    gpu_memory_mib INTEGER,                     -- per GPU
    PRIMARY KEY (cluster, node, start_ts)
);

-- GPU requests held by pods over time (one row per container and GPU resource).
CREATE TABLE IF NOT EXISTS pod_gpu_requests (
    cluster       VARCHAR     NOT NULL,
    namespace     VARCHAR     NOT NULL,
    pod           VARCHAR     NOT NULL,
    container     VARCHAR     NOT NULL DEFAULT '',
    gpu_resource  VARCHAR     NOT NULL,         -- 'nvidia.com/gpu', 'nvidia.com/mig-1g.10gb', 'nvidia.com/gpu.shared'
    start_ts      TIMESTAMPTZ NOT NULL,
    end_ts        TIMESTAMPTZ,                  -- NULL while the pod runs
    node          VARCHAR     NOT NULL,
    quantity      DOUBLE      NOT NULL CHECK (quantity > 0),  -- units of gpu_resource
    PRIMARY KEY (cluster, namespace, pod, container, gpu_resource, start_ts)
);

-- Pod and namespace labels (kube_pod_labels / kube_namespace_labels), one row per label.
CREATE TABLE IF NOT EXISTS pod_labels (
    cluster   VARCHAR NOT NULL,
    namespace VARCHAR NOT NULL,
    pod       VARCHAR NOT NULL,
    key       VARCHAR NOT NULL,
    value     VARCHAR NOT NULL,
    PRIMARY KEY (cluster, namespace, pod, key)
);

CREATE TABLE IF NOT EXISTS namespace_labels (
    cluster   VARCHAR NOT NULL,
    namespace VARCHAR NOT NULL,
    key       VARCHAR NOT NULL,
    value     VARCHAR NOT NULL,
    PRIMARY KEY (cluster, namespace, key)
);

-- Price history. zone = '' means region-wide (on-demand list prices are).
CREATE TABLE IF NOT EXISTS prices (
    instance_type       VARCHAR     NOT NULL,
    region              VARCHAR     NOT NULL,
    zone                VARCHAR     NOT NULL DEFAULT '',
    capacity_type       VARCHAR     NOT NULL CHECK (capacity_type IN ('spot', 'on-demand', 'reserved')),
    source              VARCHAR     NOT NULL CHECK (source IN ('manual', 'spot-history', 'pricing-api', 'karpenter-estimate', 'snapshot')),
    effective_from      TIMESTAMPTZ NOT NULL,
    usd_micros_per_hour BIGINT      NOT NULL CHECK (usd_micros_per_hour >= 0),
    PRIMARY KEY (instance_type, region, zone, capacity_type, source, effective_from)
);

-- LangFuse GENERATION observations with their trace's session / user / tenant.
CREATE TABLE IF NOT EXISTS llm_observations (
    observation_id           VARCHAR     NOT NULL PRIMARY KEY,
    trace_id                 VARCHAR     NOT NULL,
    session_id               VARCHAR,
    user_id                  VARCHAR,
    tenant                   VARCHAR,
    model                    VARCHAR,
    deployment               VARCHAR,           -- serving endpoint / deployment the request hit
    start_ts                 TIMESTAMPTZ NOT NULL,
    end_ts                   TIMESTAMPTZ,
    input_tokens             BIGINT      NOT NULL DEFAULT 0,
    output_tokens            BIGINT      NOT NULL DEFAULT 0,
    total_tokens             BIGINT      NOT NULL DEFAULT 0,
    latency_ms               DOUBLE,
    langfuse_cost_usd_micros BIGINT,            -- LangFuse's own (list-price) cost, when it reported one
    tags                     VARCHAR            -- JSON array as LangFuse returned it
);

-- Collection bookkeeping: one row per collector run.
CREATE TABLE IF NOT EXISTS collection_runs (
    run_id           VARCHAR     NOT NULL PRIMARY KEY,
    source           VARCHAR     NOT NULL,      -- prometheus | langfuse | prices | demo | import
    started_ts       TIMESTAMPTZ NOT NULL,
    finished_ts      TIMESTAMPTZ,
    window_start_ts  TIMESTAMPTZ,
    window_end_ts    TIMESTAMPTZ,
    status           VARCHAR     NOT NULL CHECK (status IN ('running', 'ok', 'partial', 'failed')),
    rows_loaded      BIGINT      NOT NULL DEFAULT 0,
    rows_quarantined BIGINT      NOT NULL DEFAULT 0,
    message          VARCHAR
);

-- Per source and series: data is complete up to loaded_until_ts (exclusive).
CREATE TABLE IF NOT EXISTS watermarks (
    source          VARCHAR     NOT NULL,
    series          VARCHAR     NOT NULL,
    loaded_until_ts TIMESTAMPTZ NOT NULL,
    updated_ts      TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (source, series)
);

-- Holes found in the data; shown to users, never interpolated.
CREATE TABLE IF NOT EXISTS collection_gaps (
    source       VARCHAR     NOT NULL,
    series       VARCHAR     NOT NULL,
    gap_start_ts TIMESTAMPTZ NOT NULL,
    gap_end_ts   TIMESTAMPTZ NOT NULL,
    kind         VARCHAR     NOT NULL,         -- missing-scrapes | counter-reset | stale | interrupted
    run_id       VARCHAR,
    PRIMARY KEY (source, series, gap_start_ts, kind)
);

-- Rows rejected at the collector boundary (NaN, negative, missing key fields), with why.
CREATE TABLE IF NOT EXISTS quarantine (
    run_id      VARCHAR,
    table_name  VARCHAR     NOT NULL,
    reason      VARCHAR     NOT NULL,
    payload     VARCHAR     NOT NULL,          -- the rejected row as JSON
    recorded_ts TIMESTAMPTZ NOT NULL
);

-- Reference: how much of a GPU one unit of a GPU resource is (MIG slices; seeded from sql/seeds).
CREATE TABLE IF NOT EXISTS gpu_resource_fractions (
    gpu_resource VARCHAR NOT NULL,
    gpu_model    VARCHAR NOT NULL DEFAULT '',  -- '' = any model
    gpu_fraction DOUBLE  NOT NULL CHECK (gpu_fraction > 0 AND gpu_fraction <= 1),
    PRIMARY KEY (gpu_resource, gpu_model)
);

-- Engine output: request-based allocation at pod x node x hour grain. Only the engine writes it.
-- Idle capacity is a row with namespace = pod = '__idle__'. Money is integer micro-dollars.
CREATE TABLE IF NOT EXISTS allocation (
    window_start_ts      TIMESTAMPTZ NOT NULL,  -- hour bucket start
    window_end_ts        TIMESTAMPTZ NOT NULL,
    cluster              VARCHAR     NOT NULL,
    nodepool             VARCHAR     NOT NULL,
    node                 VARCHAR     NOT NULL,
    instance_type        VARCHAR     NOT NULL,
    capacity_type        VARCHAR     NOT NULL,
    gpu_model            VARCHAR     NOT NULL,
    namespace            VARCHAR     NOT NULL,
    pod                  VARCHAR     NOT NULL,
    team                 VARCHAR     NOT NULL,  -- pod label team, else namespace label team, else __unallocated__
    model                VARCHAR     NOT NULL,  -- pod label model (what it serves), else ''
    gpu_hours            DOUBLE      NOT NULL,  -- GPU-hours requested (idle rows: unrequested)
    gpu_hours_used       DOUBLE,                -- requested GPU-hours x mean DCGM util; NULL when unmeasured
    gpu_cost_usd_micros  BIGINT      NOT NULL,
    PRIMARY KEY (window_start_ts, cluster, node, namespace, pod)
);

-- One row per allocation run: the window it rebuilt and the node cost it had to conserve.
CREATE TABLE IF NOT EXISTS allocation_runs (
    run_id                     VARCHAR     NOT NULL PRIMARY KEY,
    window_start_ts            TIMESTAMPTZ NOT NULL,
    window_end_ts              TIMESTAMPTZ NOT NULL,
    finished_ts                TIMESTAMPTZ NOT NULL,
    total_node_cost_usd_micros BIGINT      NOT NULL,
    allocated_usd_micros       BIGINT      NOT NULL,
    unpriced_node_hours        DOUBLE      NOT NULL
);

-- Node-hours that could not be priced (unknown instance type / region): reported, never $0.
CREATE TABLE IF NOT EXISTS unpriced_node_hours (
    window_start_ts TIMESTAMPTZ NOT NULL,
    cluster         VARCHAR     NOT NULL,
    node            VARCHAR     NOT NULL,
    instance_type   VARCHAR     NOT NULL,
    capacity_type   VARCHAR     NOT NULL,
    region          VARCHAR     NOT NULL,
    node_hours      DOUBLE      NOT NULL,
    PRIMARY KEY (window_start_ts, cluster, node)
);
