"""The transpiler: rewrites behave as documented, and every file of sql/allocate/ transpiles."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

import pytest

from costlab.allocate import gpu
from costlab.scale.spark_engine import ALLOCATION_STAGES, REGISTERED_INPUTS
from costlab.scale.transpile import TranspileError, to_spark
from costlab.store import sql_dir

ALLOCATE_SQL = sorted(p.stem for p in (sql_dir() / "allocate").glob("*.sql"))


@pytest.mark.parametrize("name", ALLOCATE_SQL)
def test_every_allocate_file_transpiles(name):
    statements = to_spark((sql_dir() / "allocate" / f"{name}.sql").read_text())
    assert statements
    for s in statements:
        assert "$" not in s.sql and "EPOCH_MS" not in s.sql.upper()


def test_rewrites():
    (create,) = to_spark("CREATE OR REPLACE TEMP TABLE t AS SELECT epoch_ms(ts) / 1000 AS s, $a AS a FROM x")
    assert create.kind == "temp_table" and create.target == "t" and create.params == ("a",)
    assert "UNIX_MILLIS(`ts`)" in create.sql and "CAST(UNIX_MILLIS(`ts`) AS DOUBLE) / 1000" in create.sql
    (insert,) = to_spark("INSERT INTO allocation BY NAME SELECT 1 AS gpu_hours")
    assert insert.kind == "insert" and insert.target == "allocation" and insert.by_name


def test_bind_inlines_null_and_lists_but_keeps_markers():
    (q,) = to_spark("SELECT * FROM x WHERE ($t IS NULL OR a = $t) AND (len($l) = 0 OR list_contains($l, a)) AND b < $n")
    sql, args = q.bind({"t": None, "l": ["p", "q'"], "n": 3, "unused": 1})
    assert args == {"n": 3}
    assert "NULL IS NULL" in sql and "SIZE(CAST(ARRAY('p', 'q\\'') AS ARRAY<STRING>))" in sql
    with pytest.raises(TranspileError):
        q.bind({"t": None})


def test_unsupported_statement_is_named():
    with pytest.raises(TranspileError):
        to_spark("CREATE TABLE t AS SELECT 1")


def test_stages_follow_allocate_window():
    """ALLOCATION_STAGES is the order of load_sql calls in gpu.allocate_window, INSERT targets included."""
    tree = ast.parse(inspect.getsource(gpu.allocate_window))
    stages, registered = [], []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "load_sql":
            name = node.args[0].value
            if name.startswith("allocate/"):
                stages.append((node.lineno, name))
        if isinstance(node, ast.Call) and getattr(node.func, "attr", None) == "register":
            registered.append(node.args[0].value)
    inserts = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.BinOp) and isinstance(node.left, ast.Constant) and isinstance(node.right, ast.Call):
            words = node.left.value.split()
            inserts[node.right.args[0].value] = (words[2], "BY NAME" in node.left.value)
    expected = [name for _, name in sorted(stages)]
    assert [s.sql_name for s in ALLOCATION_STAGES] == expected
    for s in ALLOCATION_STAGES:
        assert (s.into, s.by_name) == inserts.get(s.sql_name, (None, False))
    assert tuple(registered) == REGISTERED_INPUTS


def test_sql_dir_is_the_repo_one():
    assert Path(sql_dir()).name == "sql"
