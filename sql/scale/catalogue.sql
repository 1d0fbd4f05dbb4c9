-- catalogue: the columns of costlab's tables as the migrations define them, for writing and
-- reading the Parquet layout (costlab/scale/parquet_layout.py) and conforming Spark output.
-- Grain: one row per (table, column). Inputs: information_schema of a migrated database.
-- Parameters: none. Output: table_name, column_name, data_type (DuckDB type name),
--   column_default (DuckDB expression text or NULL), ordinal_position.
SELECT table_name, column_name, data_type, column_default, ordinal_position
FROM information_schema.columns
WHERE table_schema = 'main'
  AND table_name IN (SELECT table_name FROM information_schema.tables
                     WHERE table_schema = 'main' AND table_type = 'BASE TABLE')
ORDER BY table_name, ordinal_position;
