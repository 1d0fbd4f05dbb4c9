"""DuckDB SQL -> Spark SQL: the allocation SQL in sql/allocate/ is written once, for DuckDB.

`to_spark(sql)` parses a file with sqlglot (DuckDB dialect), applies the small set of rewrites
below for constructs sqlglot does not map (or maps to something with other semantics), and
returns one `SparkStatement` per SQL statement. Statements that DuckDB runs for their side effect
are not turned into Spark DDL: the Spark runner (costlab/scale/spark_engine.py) executes the query
part and does the side effect itself, so named parameters work everywhere (Spark refuses
parameter markers inside CREATE VIEW).

Rewrites, each one reason:
1. `$name` parameters -> Spark named parameter markers `:name`, bound through
   `spark.sql(sql, args=...)` (values never become SQL text). A parameter whose value is None is
   replaced by a NULL literal (Spark cannot bind an untyped NULL).
2. `epoch_ms(ts)` -> `unix_millis(ts)`. sqlglot reads DuckDB's `epoch_ms` as milliseconds ->
   timestamp; costlab's SQL uses it on timestamps (timestamp -> milliseconds since the epoch).
   An integer argument keeps sqlglot's reading.
3. `a / b` -> `CAST(a AS DOUBLE) / b`. DuckDB's `/` is floating-point division for every numeric
   type (DECIMAL included); Spark's `/` on DECIMAL is decimal division rounded to the result
   scale (often 6 digits), which would change `1.0 / 3` and price x time / 3600000.
4. `CREATE [OR REPLACE] TEMP TABLE t AS q` -> kind "temp_table": the runner runs q, persists the
   result and registers it as the temporary view t.
5. `INSERT INTO t [BY NAME] q` -> kind "insert": the runner runs q and conforms its columns to
   the table t (by name, or by position), filling absent columns with the column default.
6. Every identifier is quoted (backticks), so DuckDB-legal names that are Spark keywords (a CTE
   called `rows`) keep working.
GROUP BY ALL, named WINDOW clauses, FULL OUTER JOIN, any_value, `||` exist in Spark >= 3.4 and
need no rewrite. Anything sqlglot reports as unsupported raises `TranspileError`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlglot
from sqlglot import exp
from sqlglot.errors import ErrorLevel, SqlglotError

from costlab.errors import CostlabError


class TranspileError(CostlabError):
    """A DuckDB statement that the Spark path cannot express."""


@dataclass(frozen=True)
class SparkStatement:
    """One statement of a SQL file, ready for the Spark runner.

    kind: "query" (run it, use the rows), "temp_table" (materialise as view `target`), or
    "insert" (write into table `target`, columns matched `by_name` or by position).
    sql: Spark SQL of the query part, with `:name` markers for `params`.
    """

    kind: str
    sql: str
    params: tuple[str, ...]
    target: str | None = None
    by_name: bool = False

    def bind(self, values: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        """(sql, args) for spark.sql with only the parameters this statement uses.

        Scalars stay parameter markers. None becomes a NULL literal and a list a typed ARRAY
        literal (Spark cannot bind either as a marker); `len(<list parameter>)` becomes
        `size(...)`, since DuckDB's `len` is a string or list length and sqlglot reads a string one.
        """
        missing = [p for p in self.params if p not in values]
        if missing:
            raise TranspileError(
                f"statement needs parameter(s) {', '.join(missing)} that were not given"
            )
        inline = {
            p for p in self.params if values[p] is None or isinstance(values[p], list | tuple)
        }
        args = {p: values[p] for p in self.params if p not in inline}
        if not inline:
            return self.sql, args
        tree = sqlglot.parse_one(self.sql, read="spark")
        for node in list(tree.find_all(exp.Placeholder)):
            if node.name in inline:
                node.replace(_literal(values[node.name]))
        for length in list(tree.find_all(exp.Length)):
            if isinstance(length.this, exp.Cast) and length.this.to.this == exp.DataType.Type.ARRAY:
                length.replace(exp.ArraySize(this=length.this))
        return _generate(tree), args


_ELEMENT_TYPES = {str: "STRING", int: "BIGINT", float: "DOUBLE", bool: "BOOLEAN"}


def _literal(value: Any) -> exp.Expression:
    """NULL, or a list of str/int/float/bool as CAST(ARRAY(...) AS ARRAY<type>)."""
    if value is None:
        return exp.Null()
    kinds = {type(v) for v in value}
    if len(kinds) > 1 or not kinds <= set(_ELEMENT_TYPES):
        raise TranspileError(
            f"list parameters must hold one of str/int/float/bool, not {sorted(k.__name__ for k in kinds)}"
        )
    element = _ELEMENT_TYPES[kinds.pop()] if kinds else "STRING"
    items = [exp.convert(v) for v in value]
    return exp.Cast(
        this=exp.Array(expressions=items),
        to=exp.DataType.build(f"ARRAY<{element}>", dialect="spark"),
    )


def _epoch_ms(node: exp.Expression) -> exp.Expression:
    if isinstance(node, exp.UnixToTime) and _is_millis(node.args.get("scale")):
        arg = node.this
        if not (isinstance(arg, exp.Literal) and not arg.is_string):
            return exp.UnixMillis(this=arg)
    return node


def _is_millis(scale: exp.Expression | None) -> bool:
    return isinstance(scale, exp.Literal) and scale.this == str(exp.UnixToTime.MILLIS.this)


def _float_division(node: exp.Expression) -> exp.Expression:
    if isinstance(node, exp.Div):
        left = node.this
        if not (isinstance(left, exp.Cast) and left.to.this == exp.DataType.Type.DOUBLE):
            node.set("this", exp.Cast(this=left, to=exp.DataType.build("DOUBLE")))
    return node


def _rewrite(tree: exp.Expr) -> exp.Expr:
    tree = tree.transform(_epoch_ms)
    return tree.transform(_float_division)


def _generate(tree: exp.Expr) -> str:
    try:
        return tree.sql(
            dialect="spark", identify=True, comments=False, unsupported_level=ErrorLevel.RAISE
        )
    except SqlglotError as exc:
        raise TranspileError(f"sqlglot cannot write this for Spark: {exc}") from exc


def _params(tree: exp.Expr) -> tuple[str, ...]:
    seen: dict[str, None] = {}
    for node in tree.find_all(exp.Placeholder):
        if not node.name:
            raise TranspileError("positional parameters (?) are not supported; use $name")
        seen[node.name] = None
    return tuple(seen)


def _statement(tree: exp.Expr) -> SparkStatement:
    if isinstance(tree, exp.Create):
        kind = str(tree.args.get("kind") or "").upper()
        props = tree.args.get("properties")
        temporary = props is not None and any(
            isinstance(p, exp.TemporaryProperty) for p in props.expressions
        )
        query = tree.expression
        if kind != "TABLE" or not temporary or not isinstance(query, exp.Query):
            raise TranspileError(
                "only CREATE TEMP TABLE ... AS <query> is supported in the Spark path"
            )
        target = tree.this.name if isinstance(tree.this, exp.Table) else tree.this.this.name
        query = _rewrite(query)
        return SparkStatement("temp_table", _generate(query), _params(query), target=target)
    if isinstance(tree, exp.Insert):
        query = tree.expression
        table = tree.this if isinstance(tree.this, exp.Table) else None
        if table is None or not isinstance(query, exp.Query):
            raise TranspileError(
                "only INSERT INTO <table> [BY NAME] <query> is supported in the Spark path"
            )
        query = _rewrite(query)
        return SparkStatement(
            "insert",
            _generate(query),
            _params(query),
            target=table.name,
            by_name=bool(tree.args.get("by_name")),
        )
    if isinstance(tree, exp.Query):
        tree = _rewrite(tree)
        return SparkStatement("query", _generate(tree), _params(tree))
    raise TranspileError(f"unsupported statement for the Spark path: {type(tree).__name__}")


def to_spark(sql: str) -> list[SparkStatement]:
    """Transpile every statement of a DuckDB SQL text (e.g. a file of sql/allocate/) for Spark."""
    try:
        trees = sqlglot.parse(sql, read="duckdb")
    except SqlglotError as exc:
        raise TranspileError(f"sqlglot cannot parse the DuckDB SQL: {exc}") from exc
    return [_statement(t) for t in trees if t is not None]


def spark_type(duckdb_type: str) -> str:
    """The Spark SQL type for a DuckDB column type, e.g. 'TIMESTAMP WITH TIME ZONE' -> 'TIMESTAMP'."""
    try:
        return exp.DataType.build(duckdb_type, dialect="duckdb").sql(dialect="spark")
    except SqlglotError as exc:
        raise TranspileError(f"no Spark type for DuckDB type {duckdb_type!r}: {exc}") from exc


def spark_expression(duckdb_sql: str) -> str:
    """A DuckDB scalar expression (a column default such as `'request'` or `1.0`) for Spark."""
    try:
        return _generate(_rewrite(sqlglot.parse_one(duckdb_sql, read="duckdb")))
    except SqlglotError as exc:
        raise TranspileError(f"cannot transpile expression {duckdb_sql!r}: {exc}") from exc
