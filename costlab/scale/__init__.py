"""Scale-out: the raw tables as partitioned Parquet, DuckDB reading it in place, and the same
allocation SQL transpiled to Spark (docs/scaling.md)."""
