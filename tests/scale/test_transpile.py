"""The transpiler: rewrites behave as documented, and every file of sql/allocate/ transpiles."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from costlab.allocate import gpu
from costlab.allocate.settings import AllocateSettings
from costlab.scale.spark_engine import allocation_plan
from costlab.scale.transpile import TranspileError, to_spark
from costlab.store import load_sql, sql_dir
from costlab.timeutil import Window

T0 = datetime(2026, 1, 1, tzinfo=UTC)
ALLOCATE_SQL = sorted(p.stem for p in (sql_dir() / "allocate").glob("*.sql"))


@pytest.mark.parametrize("name", ALLOCATE_SQL)
def test_every_allocate_file_transpiles(name):
    statements = to_spark((sql_dir() / "allocate" / f"{name}.sql").read_text())
    assert statements
    for s in statements:
        assert "$" not in s.sql and "EPOCH_MS" not in s.sql.upper()


def test_rewrites():
    (create,) = to_spark(
        "CREATE OR REPLACE TEMP TABLE t AS SELECT epoch_ms(ts) / 1000 AS s, $a AS a FROM x"
    )
    assert create.kind == "temp_table" and create.target == "t" and create.params == ("a",)
    assert (
        "UNIX_MILLIS(`ts`)" in create.sql
        and "CAST(UNIX_MILLIS(`ts`) AS DOUBLE) / 1000" in create.sql
    )
    (insert,) = to_spark("INSERT INTO allocation BY NAME SELECT 1 AS gpu_hours")
    assert insert.kind == "insert" and insert.target == "allocation" and insert.by_name


def test_bind_inlines_null_and_lists_but_keeps_markers():
    (q,) = to_spark(
        "SELECT * FROM x WHERE ($t IS NULL OR a = $t) AND (len($l) = 0 OR list_contains($l, a)) AND b < $n"
    )
    sql, args = q.bind({"t": None, "l": ["p", "q'"], "n": 3, "unused": 1})
    assert args == {"n": 3}
    assert "NULL IS NULL" in sql and "SIZE(CAST(ARRAY('p', 'q\\'') AS ARRAY<STRING>))" in sql
    with pytest.raises(TranspileError):
        q.bind({"t": None})


def test_unsupported_statement_is_named():
    with pytest.raises(TranspileError):
        to_spark("CREATE TABLE t AS SELECT 1")


def test_spark_runs_the_stages_gpu_defines():
    """The Spark plan is gpu.ALLOCATION_STAGES in order: temp stages create the table they declare,
    result stages become inserts into theirs."""
    plan = allocation_plan()
    assert [stage for stage, _ in plan] == [
        stage for stage in gpu.ALLOCATION_STAGES for _ in to_spark(load_sql(stage.sql_name))
    ]
    last = {stage: statement for stage, statement in plan}  # each stage's final statement
    assert list(last) == list(gpu.ALLOCATION_STAGES)
    for stage, statement in last.items():
        assert statement.target == stage.table
        assert statement.kind == ("insert" if stage.result else "temp_table")
        assert statement.by_name == stage.by_name


def test_spark_plan_follows_a_changed_stage_list(monkeypatch):
    """allocation_plan reads gpu.ALLOCATION_STAGES when it runs; it holds no copy of its own."""
    stages = gpu.ALLOCATION_STAGES[:2] + gpu.ALLOCATION_STAGES[3:4]
    monkeypatch.setattr(gpu, "ALLOCATION_STAGES", stages)
    assert [stage for stage, _ in allocation_plan()] == list(stages)


def test_result_stages_run_last_and_params_cover_every_statement():
    """allocate_window runs the temp stages, then the result stages; every $name is bound."""
    kinds = [stage.result for stage in gpu.ALLOCATION_STAGES]
    assert kinds == sorted(kinds)
    params = gpu.allocation_params(Window(T0, T0 + timedelta(hours=1)), T0, AllocateSettings())
    for stage, statement in allocation_plan():
        assert set(statement.params) <= set(params), stage.sql_name


def test_sql_dir_is_the_repo_one():
    assert Path(sql_dir()).name == "sql"
