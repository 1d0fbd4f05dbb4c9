-- 007_unknown_node_capacity: `nodes.capacity_type` may be 'unknown'. A GPU node seen only by
-- dcgm-exporter (no Karpenter series, no kube_node_labels) is recorded with instance_type,
-- capacity_type and region 'unknown' (and a `node-without-karpenter-labels` row in
-- collection_gaps), so its hours reach unpriced_node_hours instead of being lost. DuckDB cannot
-- alter a CHECK constraint: the table is rebuilt with the same columns, key and constraints.
CREATE TABLE nodes_rebuilt (
    cluster        VARCHAR     NOT NULL,
    node           VARCHAR     NOT NULL,
    start_ts       TIMESTAMPTZ NOT NULL,
    end_ts         TIMESTAMPTZ,                 -- NULL while the node is alive
    end_reason     VARCHAR,                     -- consolidated | interrupted | expired | drifted | deleted | unknown
    nodepool       VARCHAR,
    instance_type  VARCHAR     NOT NULL,        -- 'unknown' when no source reports it
    capacity_type  VARCHAR     NOT NULL CHECK (capacity_type IN ('spot', 'on-demand', 'reserved', 'unknown')),
    region         VARCHAR     NOT NULL,        -- 'unknown' when no source reports it
    zone           VARCHAR,
    gpu_count      INTEGER     NOT NULL CHECK (gpu_count >= 0),
    gpu_model      VARCHAR,
    gpu_memory_mib INTEGER,                     -- per GPU
    PRIMARY KEY (cluster, node, start_ts)
);
INSERT INTO nodes_rebuilt BY NAME SELECT * FROM nodes;
DROP TABLE nodes;
ALTER TABLE nodes_rebuilt RENAME TO nodes;
