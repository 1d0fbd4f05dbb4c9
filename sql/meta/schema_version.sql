-- schema_version: which forward migrations (sql/schema/NNN_name.sql) this database has applied.
CREATE TABLE IF NOT EXISTS schema_version (
    version    INTEGER     NOT NULL PRIMARY KEY,
    name       VARCHAR     NOT NULL,
    applied_ts TIMESTAMPTZ NOT NULL DEFAULT current_timestamp
);
