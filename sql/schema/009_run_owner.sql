-- 009_run_owner: a collection run records the process (pid, host) that runs it, and a run whose
-- process died without finishing becomes 'interrupted' (costlab.store.mark_interrupted_runs).
-- DuckDB cannot alter a CHECK constraint: the table is rebuilt with the same key.
CREATE TABLE collection_runs_rebuilt (
    run_id           VARCHAR     NOT NULL PRIMARY KEY,
    source           VARCHAR     NOT NULL,      -- prometheus | langfuse | prices | demo | import
    started_ts       TIMESTAMPTZ NOT NULL,
    finished_ts      TIMESTAMPTZ,                -- for 'interrupted': when it was found dead
    window_start_ts  TIMESTAMPTZ,
    window_end_ts    TIMESTAMPTZ,
    status           VARCHAR     NOT NULL
        CHECK (status IN ('running', 'ok', 'partial', 'failed', 'interrupted')),
    rows_loaded      BIGINT      NOT NULL DEFAULT 0,
    rows_quarantined BIGINT      NOT NULL DEFAULT 0,
    message          VARCHAR,
    pid              INTEGER,                    -- NULL for runs booked before this migration
    host             VARCHAR
);
INSERT INTO collection_runs_rebuilt BY NAME SELECT * FROM collection_runs;
DROP TABLE collection_runs;
ALTER TABLE collection_runs_rebuilt RENAME TO collection_runs;
