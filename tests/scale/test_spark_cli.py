"""`costlab allocate --engine spark --input LAKE` end to end, in its own process (its own Spark
session), with the window cut into 1-day chunks: every chunk is allocated by Spark and loaded into
the database, and the rows equal DuckDB's for the whole window."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest

from costlab import store
from costlab.scale import parquet_layout as layout
from tests.scale.test_spark_differential import _allocation as allocation_of
from tests.scale.test_spark_differential import assert_rows_equal

# Runs `costlab allocate --engine spark` (a Spark JVM) in a subprocess.
pytestmark = pytest.mark.service


def _allocation(path) -> tuple[list[tuple], list[str]]:
    conn = store.connect(path, read_only=True)
    try:
        return allocation_of(conn)
    finally:
        conn.close()


def test_cli_spark_engine_in_day_chunks_matches_duckdb(demo_db, tmp_path):
    lake, target = tmp_path / "lake", tmp_path / "spark.duckdb"
    conn = store.connect(demo_db, read_only=True)
    try:
        layout.export_parquet(conn, lake)
        first, last = conn.execute(
            "SELECT min(window_start_ts), max(window_end_ts) FROM allocation"
        ).fetchall()[0]
    finally:
        conn.close()
    shutil.copyfile(demo_db, target)
    fresh = store.connect(target)
    fresh.execute("DELETE FROM allocation")
    fresh.close()

    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "costlab.cli",
            "--db",
            str(target),
            "allocate",
            "--engine",
            "spark",
            "--input",
            str(lake),
            "--spark-master",
            "local[2]",
            "--start",
            first.isoformat(),
            "--end",
            last.isoformat(),
            "--format",
            "json",
        ],
        env={**os.environ, "COSTLAB_ALLOCATE_MAX_WINDOW_DAYS": "1"},
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout)
    assert float(result["total_node_cost_usd"]) > 0

    conn = store.connect(target, read_only=True)
    try:
        runs = conn.execute(
            "SELECT count(*) FROM allocation_runs WHERE window_start_ts >= $s", {"s": first}
        ).fetchall()[0][0]
    finally:
        conn.close()
    assert runs >= 2  # one run per day chunk (plus the demo's own)
    duck, names = _allocation(demo_db)
    spark, _ = _allocation(target)
    assert_rows_equal(duck, spark, names)
