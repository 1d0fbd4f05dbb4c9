"""The tenant scope, by construction: every dashboard query reads scoped relations only.

`compose(body, engine_ctes)` puts `sql/dashboard/scope/<table>.sql` in front of every query as a
CTE named after the table it filters (`allocation`, `llm_observations`, `gpu_samples`, ...), so
inside the query that name *is* the tenant's rows: a query cannot forget the scope, and a
comment mentioning `$tenant` proves nothing. `check` then reads DuckDB's own parse tree of the
composed query and refuses any way around the shadowing: a schema- or catalog-qualified table
(`main.allocation`), a table function (`read_parquet`, `duckdb_tables`), or a table that is
neither scoped, a reference table nor a CTE of the query.

The one relation computed over the whole fleet before the scope is the idle share of
`allocate/report_by` (costlab/allocate/report.py IDLE_SHARE_CTES): a tenant's share of its
cluster's idle needs every tenant's cost, and it returns the session tenant's shares only.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from functools import cache
from typing import Any

import duckdb

from costlab.store import compose_sql

# Tables a dashboard session sees through sql/dashboard/scope/<table>.sql, in dependency order
# (the later ones read the already scoped `allocation`).
SCOPED = (
    "allocation",
    "llm_observations",
    "gpu_samples",
    "pod_labels",
    "namespace_labels",
    "unpriced_node_hours",
)
# Tables with no tenant data in them, readable as they are.
REFERENCE = frozenset({"gpu_throughput"})
SCOPE_CTES = [(table, f"dashboard/scope/{table}") for table in SCOPED]


class ScopeError(Exception):
    """A dashboard query reaches past the tenant scope."""


def compose(
    body: str, engine_ctes: list[tuple[str, str]], fleet_ctes: list[tuple[str, str]]
) -> str:
    """`sql/<body>.sql` behind `fleet_ctes` (whole-fleet inputs that return scoped rows), the
    scope relations and `engine_ctes` (engine queries it reads, themselves scoped)."""
    return compose_sql(body, fleet_ctes + SCOPE_CTES + engine_ctes, inline=frozenset(SCOPED))


@cache
def check(sql: str) -> None:
    """Raise ScopeError unless `sql` (one SELECT) reads only scoped, reference and CTE relations."""
    conn = duckdb.connect()
    try:
        row = conn.execute("SELECT json_serialize_sql($q)", {"q": sql}).fetchone()
    finally:
        conn.close()
    tree: dict[str, Any] = json.loads(row[0]) if row else {"error": True}
    if tree.get("error") or len(tree.get("statements") or []) != 1:
        raise ScopeError("a dashboard query must be exactly one SELECT statement")
    ctes = {name for node in _nodes(tree) for name in _cte_names(node)}
    for node in _nodes(tree):
        kind = node.get("type")
        if kind == "TABLE_FUNCTION":
            name = node.get("function", {}).get("function_name", "?")
            raise ScopeError(f"table function {name}() reads past the tenant scope")
        if kind != "BASE_TABLE":
            continue
        table = node.get("table_name", "")
        if node.get("schema_name") or node.get("catalog_name"):
            path = ".".join(node.get("qualified_name", {}).get("path", [table]))
            raise ScopeError(f"{path} names a table directly, past the tenant scope")
        if table not in ctes and table not in REFERENCE:
            raise ScopeError(f"table {table} is not in the tenant scope")


def _cte_names(node: dict[str, Any]) -> Iterator[str]:
    cte_map = node.get("cte_map")
    if isinstance(cte_map, dict):
        for entry in cte_map.get("map", []):
            yield entry["key"]


def _nodes(value: Any) -> Iterator[dict[str, Any]]:
    """Every JSON object in the parse tree, depth first."""
    if isinstance(value, dict):
        yield value
        for child in value.values():
            yield from _nodes(child)
    elif isinstance(value, list):
        for child in value:
            yield from _nodes(child)
