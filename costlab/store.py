"""The DuckDB database: connections, forward migrations, SQL files by name, idempotent writes.

Everything that touches the database file goes through here, so the rules (parameters bound,
identifiers from an allow-list, writes keyed and transactional) live in one place.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from functools import cache
from pathlib import Path

import duckdb
import pyarrow as pa

from costlab.errors import StoreError

log = logging.getLogger(__name__)

_IDENT = re.compile(r"^[a-z_][a-z0-9_]*$")


def sql_dir() -> Path:
    """`sql/` beside the package in a checkout, `costlab/_sql` in an installed wheel."""
    here = Path(__file__).resolve().parent
    for candidate in (here.parent / "sql", here / "_sql"):
        if candidate.is_dir():
            return candidate
    raise StoreError("cannot find the sql/ folder that ships with costlab")


@cache
def load_sql(name: str) -> str:
    """The text of `sql/<name>.sql`, e.g. load_sql("allocate/split")."""
    path = sql_dir() / f"{name}.sql"
    if not path.is_file():
        raise StoreError(f"no SQL file named {name!r} under {sql_dir()}")
    return path.read_text()


# a query's own leading WITH (after its header comments) merges into the one put in front of it
_LEADING_WITH = re.compile(r"^((?:\s*--[^\n]*\n)*\s*)WITH\s", re.IGNORECASE)


def compose_sql(
    body: str, ctes: list[tuple[str, str]], inline: frozenset[str] = frozenset()
) -> str:
    """`sql/<body>.sql` with each `(cte_name, sql_name)` in front of it as a CTE, in order, so a
    query can read another query's result by name without a temp table (read-only connections)
    and without copying its SQL. CTEs named in `inline` are never materialised, so filters of
    the query reading them still reach the table underneath (a shadowing scope relation)."""
    if not ctes:
        return load_sql(body)
    front = ",\n".join(
        f"{name} AS {'NOT MATERIALIZED ' if name in inline else ''}"
        f"({load_sql(sql).strip().rstrip(';')})"
        for name, sql in ctes
    )
    text, merged = _LEADING_WITH.subn(r"\1", load_sql(body), count=1)
    return f"WITH {front}{',' if merged else ''}\n{text}"


def require_database(path: str | Path) -> None:
    """Read-only commands need an existing database: opening a missing one would create it."""
    p = Path(path)
    if str(path) != ":memory:" and not p.exists():
        raise StoreError(
            f"no costlab database at {p}: run `costlab demo` or `costlab collect` first"
        )


def connect(
    path: str | Path, *, read_only: bool = False, migrate_schema: bool = True
) -> duckdb.DuckDBPyConnection:
    """Open (creating if needed) a costlab database and bring its schema up to date."""
    target = str(path)
    if target != ":memory:":
        p = Path(target)
        if p.is_dir():
            raise StoreError(f"--db {target} is a directory, not a database file")
        if read_only:
            require_database(p)
        if not read_only and not p.parent.exists():
            raise StoreError(f"cannot create database {target}: folder {p.parent} does not exist")
    try:
        conn = duckdb.connect(target, read_only=read_only)
    except duckdb.Error as exc:
        raise StoreError(f"cannot open database {target}: {str(exc).splitlines()[0]}") from exc
    conn.execute("SET TimeZone = 'UTC'")
    # DuckDB draws a progress bar on stdout for queries over 2 s: it would corrupt --format json.
    # In Jupyter DuckDB refuses the setting without ipywidgets; there it draws no text bar anyway.
    with suppress(duckdb.InvalidInputException):
        conn.execute("SET enable_progress_bar = false")
    if migrate_schema and not read_only:
        migrate(conn)
    return conn


def migrations() -> list[tuple[int, str, Path]]:
    found = []
    for path in sorted((sql_dir() / "schema").glob("*.sql")):
        number, _, name = path.stem.partition("_")
        found.append((int(number), name, path))
    return found


def schema_version(conn: duckdb.DuckDBPyConnection) -> int:
    # fetchall, not fetchone: a half-read result blocks the next conn.sql() / conn.table() on the
    # connection, and connect() ends with this query
    exists = conn.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_name = 'schema_version'"
    ).fetchall()
    if not exists or not exists[0][0]:
        return 0
    rows = conn.execute("SELECT coalesce(max(version), 0) FROM schema_version").fetchall()
    return int(rows[0][0]) if rows else 0


def migrate(conn: duckdb.DuckDBPyConnection) -> int:
    """Apply every migration newer than the database's version; each in its own transaction."""
    conn.execute(load_sql("meta/schema_version"))
    # By membership, not by "newer than the highest": a migration merged after a higher-numbered
    # one (parallel branches) still gets applied.
    applied = {r[0] for r in conn.execute("SELECT version FROM schema_version").fetchall()}
    for number, name, path in migrations():
        if number in applied:
            continue
        log.info("applying migration %03d_%s", number, name)
        with transaction(conn):
            conn.execute(path.read_text())
            conn.execute(
                "INSERT INTO schema_version (version, name) VALUES ($v, $n)",
                {"v": number, "n": name},
            )
    _seed(conn)
    return schema_version(conn)


def _seed(conn: duckdb.DuckDBPyConnection) -> None:
    """Reference tables from sql/seeds/*.csv, upserted so new seed rows reach old databases."""
    import polars as pl

    for path in sorted((sql_dir() / "seeds").glob("*.csv")):
        table = path.stem
        frame = pl.read_csv(path, infer_schema_length=0).with_columns(pl.all().fill_null(""))
        upsert(conn, table, frame.to_arrow())


@contextmanager
def transaction(conn: duckdb.DuckDBPyConnection) -> Iterator[duckdb.DuckDBPyConnection]:
    conn.execute("BEGIN TRANSACTION")
    try:
        yield conn
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    else:
        conn.execute("COMMIT")


def table_columns(conn: duckdb.DuckDBPyConnection, table: str) -> list[str]:
    rows = conn.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_name = $t ORDER BY ordinal_position",
        {"t": table},
    ).fetchall()
    if not rows:
        raise StoreError(f"unknown table {table!r}")
    return [r[0] for r in rows]


def primary_key(conn: duckdb.DuckDBPyConnection, table: str) -> list[str]:
    """The primary-key columns of `table` ([] for a table without one)."""
    rows = conn.execute(
        "SELECT unnest(constraint_column_names) FROM duckdb_constraints() "
        "WHERE table_name = $t AND constraint_type = 'PRIMARY KEY'",
        {"t": table},
    ).fetchall()
    return [r[0] for r in rows]


def _ident(name: str) -> str:
    if not _IDENT.match(name):
        raise StoreError(f"refusing identifier {name!r}")
    return name


def upsert(conn: duckdb.DuckDBPyConnection, table: str, data: pa.Table) -> int:
    """Insert rows, replacing rows with the same primary key: running it twice changes nothing.

    Only columns the table has are accepted; identifiers are checked against the catalogue, so no
    caller-supplied text ever becomes SQL.
    """
    if data.num_rows == 0:
        return 0
    known = set(table_columns(conn, table))
    unknown = [c for c in data.column_names if c not in known]
    if unknown:
        raise StoreError(f"table {table} has no column(s) {', '.join(unknown)}")
    cols = ", ".join(_ident(c) for c in data.column_names)
    # Tables without a key (derived ones, rebuilt per window) take plain inserts.
    verb = "INSERT OR REPLACE" if primary_key(conn, table) else "INSERT"
    conn.register("_costlab_staged", data)
    try:
        conn.execute(f"{verb} INTO {_ident(table)} ({cols}) SELECT {cols} FROM _costlab_staged")
    finally:
        conn.unregister("_costlab_staged")
    return data.num_rows
