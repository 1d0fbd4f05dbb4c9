-- catalogue: the columns of costlab's tables as the migrations define them, for writing and
-- reading the Parquet layout (costlab/scale/parquet_layout.py) and conforming Spark output.
-- Grain: one row per (table, column). Inputs: information_schema and duckdb_columns() of a
-- migrated database. Parameters: none. Output: table_name, column_name, data_type (DuckDB type
-- name), column_default (DuckDB expression text or NULL; for a generated column its expression),
-- ordinal_position, is_generated (derived from other columns, never stored: not in Parquet).
SELECT c.table_name, c.column_name, c.data_type, c.column_default, c.ordinal_position,
       coalesce(d.is_generated, false) AS is_generated
FROM information_schema.columns c
LEFT JOIN duckdb_columns() d
  ON d.schema_name = c.table_schema AND d.table_name = c.table_name AND d.column_name = c.column_name
WHERE c.table_schema = 'main'
  AND c.table_name IN (SELECT table_name FROM information_schema.tables
                       WHERE table_schema = 'main' AND table_type = 'BASE TABLE')
ORDER BY c.table_name, c.ordinal_position;
