"""Differential tests: the allocation and report_by on Spark local[2] equal DuckDB's.

Money (every *_usd_micros column) must be identical to the micro-dollar; keys and timestamps
identical; DOUBLE measures (GPU-hours, ratios) equal to 1e-9 relative, since a floating-point sum
depends on the order the engine adds in.
"""

from __future__ import annotations

import math
import shutil
from datetime import timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from costlab import store
from costlab.allocate.gpu import allocate_window
from costlab.allocate.report import report_params, report_sql
from costlab.scale import parquet_layout as layout
from costlab.scale.spark_engine import allocate_window_spark, register_tables, report_rows_spark
from costlab.timeutil import Window
from tests.scale.fleets import HOURS, T0, fleets, load_fleet

# Every test runs a Spark local[2] session (a JVM).
pytestmark = pytest.mark.service

BY = ("team", "namespace", "nodepool", "cluster", "model", "label:team")
IDLE = ("separate", "share")
ORDER = "ORDER BY window_start_ts, cluster, node, namespace, pod"


def _same(a, b) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)
    return a == b


def assert_rows_equal(duck: list[tuple], spark: list[tuple], names: list[str]) -> None:
    assert len(duck) == len(spark), f"{len(duck)} DuckDB rows vs {len(spark)} Spark rows"
    for d, s in zip(duck, spark, strict=True):
        for name, x, y in zip(names, d, s, strict=True):
            if name.endswith("_usd_micros"):
                assert type(x) is int and type(y) is int and x == y, f"{name}: {x} != {y} in {d}"
            else:
                assert _same(x, y), f"{name}: {x!r} != {y!r} in {d}"


def _allocation(conn) -> tuple[list[tuple], list[str]]:
    cursor = conn.execute("SELECT * FROM allocation " + ORDER)
    return cursor.fetchall(), [c[0] for c in cursor.description]


def differential(conn, spark, tmp, window, modes) -> None:
    """Export conn's raw tables, allocate on both engines, compare allocation and reports."""
    source, out = tmp / "lake", tmp / "out"
    layout.export_parquet(conn, source)
    duck_run = allocate_window(conn, window, window.end)
    spark_run = allocate_window_spark(spark, source, out, window, window.end)
    assert spark_run.total_node_cost_usd_micros == duck_run.total_node_cost_usd_micros
    assert spark_run.allocated_usd_micros == duck_run.allocated_usd_micros
    assert spark_run.rows == duck_run.rows

    back = store.connect(":memory:")
    layout.import_results(back, out)
    duck_rows, names = _allocation(conn)
    spark_rows, _ = _allocation(back)
    assert_rows_equal(duck_rows, spark_rows, names)

    register_tables(spark, out, tables=["allocation"])
    for by, idle in modes:
        cursor = conn.execute(report_sql(), report_params(window, by, idle))
        duck = cursor.fetchall()
        assert_rows_equal(
            duck,
            report_rows_spark(spark, window, by=by, idle=idle),
            [c[0] for c in cursor.description],
        )


def test_demo_fleet_matches_duckdb(spark, demo_db, tmp_path):
    """The 2-day demo fleet: every allocation row and every --by x --idle report is identical."""
    copy = tmp_path / "demo.duckdb"
    shutil.copyfile(demo_db, copy)  # the session's demo database stays untouched
    conn = store.connect(copy)
    try:
        first, last = conn.execute(
            "SELECT min(window_start_ts), max(window_end_ts) FROM allocation"
        ).fetchall()[0]
        differential(conn, spark, tmp_path, Window(first, last), [(b, i) for b in BY for i in IDLE])
    finally:
        conn.close()


@settings(
    max_examples=4,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    rows=fleets(),
    modes=st.lists(
        st.tuples(st.sampled_from(BY), st.sampled_from(IDLE)), min_size=2, max_size=2, unique=True
    ),
)
def test_random_fleets_match_duckdb(spark, tmp_path_factory, rows, modes):
    conn = store.connect(":memory:")
    try:
        load_fleet(conn, rows)
        window = Window(T0, T0 + timedelta(hours=HOURS))
        differential(conn, spark, tmp_path_factory.mktemp("fleet"), window, modes)
    finally:
        conn.close()
