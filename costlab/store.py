"""The DuckDB database: connections, forward migrations, SQL files by name, idempotent writes.

Everything that touches the database file goes through here, so the rules (parameters bound,
identifiers from an allow-list, writes keyed and transactional) live in one place.
"""

from __future__ import annotations

import logging
import os
import re
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from datetime import UTC, datetime
from functools import cache
from pathlib import Path

import duckdb
import pyarrow as pa

from costlab.errors import StoreError, UsageError

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


# Every connection: a file handed over as --db must not make DuckDB fetch or load code (opening a
# SQLite file would otherwise download and load the sqlite extension).
DUCKDB_CONFIG: dict[str, str | bool | int | float | list[str]] = {
    "autoinstall_known_extensions": False,
    "autoload_known_extensions": False,
}

FOREIGN_ENV = "COSTLAB_INIT_FOREIGN_DB"
LOCK_TIMEOUT_ENV = "COSTLAB_LOCK_TIMEOUT_S"
DEFAULT_LOCK_TIMEOUT_S = 30.0
_SQLITE_MAGIC = b"SQLite format 3\x00"
_allow_foreign = False


class DatabaseLocked(StoreError):
    """Another process holds the database (DuckDB allows one writer, or readers without it)."""


def allow_foreign(on: bool = True) -> None:
    """`--init-foreign-db`: let a write connection add costlab's tables to another DuckDB file."""
    global _allow_foreign
    _allow_foreign = on


def _foreign_allowed() -> bool:
    return _allow_foreign or os.environ.get(FOREIGN_ENV, "").strip() == "1"


def _lock_timeout() -> float:
    raw = os.environ.get(LOCK_TIMEOUT_ENV, "").strip()
    if not raw:
        return DEFAULT_LOCK_TIMEOUT_S
    try:
        seconds = float(raw)
    except ValueError:
        seconds = -1.0
    if not 0 <= seconds < float("inf"):
        raise UsageError(f"{LOCK_TIMEOUT_ENV}={raw!r} is not a number of seconds (e.g. 30)")
    return seconds


def _check_file(p: Path) -> None:
    """Refuse what DuckDB would hang on (a FIFO), misread or hand to an extension, before opening."""
    if not p.exists():
        if not p.parent.exists():
            raise StoreError(f"cannot create database {p}: folder {p.parent} does not exist")
        return
    if p.is_dir():
        raise StoreError(f"--db {p} is a directory, not a database file")
    if not p.is_file():
        # opening a FIFO blocks until a writer appears; a device is nobody's database
        raise StoreError(f"--db {p} is not a regular file (a FIFO, socket or device)")
    try:
        with p.open("rb") as f:
            head = f.read(16)
    except OSError as exc:
        raise StoreError(f"cannot read database {p}: {exc.strerror or exc}") from exc
    if head == _SQLITE_MAGIC:
        raise StoreError(f"{p} is not a DuckDB database (SQLite file?)")


# DuckDB's wordings for a block that fails its checksum or lies past the end of the file.
_DAMAGE_MARKERS = ("Corrupt database file", "Could not read enough bytes from file")


def damage_message(path: str | Path, exc: BaseException) -> str | None:
    """A one-line error for a DuckDB error that means the file is damaged, else None."""
    first = str(exc).splitlines()[0] if str(exc) else ""
    if any(marker in first for marker in _DAMAGE_MARKERS):
        return f"database {path} is damaged or truncated ({first}); restore it from a backup"
    if "not a valid DuckDB database file" in first:
        return f"{path} is not a DuckDB database"
    return None


def _check_size(conn: duckdb.DuckDBPyConnection, p: Path) -> None:
    """A truncated file opens fine and fails at the first read of a lost block: compare the file's
    size with the least its header allows. Blocks are numbered from 0 after 3 header pages of
    4 KiB; free blocks at the end may have been cut off the file, so only used ones count."""
    row = conn.execute(
        "SELECT block_size, total_blocks, free_blocks FROM pragma_database_size()"
    ).fetchone()
    if row is None:
        return
    block_size, total, free = (int(v) for v in row)
    least = 3 * 4096 + block_size * (total - free)
    size = p.stat().st_size
    if size < least:
        raise StoreError(
            f"database {p} is truncated ({size:,} bytes, at least {least:,} expected); "
            "restore it from a backup"
        )


def _is_foreign(conn: duckdb.DuckDBPyConnection) -> bool:
    """A database with tables but no costlab migration record belongs to another application."""
    tables = {
        r[0]
        for r in conn.execute(
            "SELECT table_name FROM information_schema.tables "
            "WHERE table_catalog = current_database()"
        ).fetchall()
    }
    if not tables - {"schema_version"}:
        return False  # empty, or created by costlab and killed during its first migration
    if "schema_version" not in tables:
        return True
    try:
        row = conn.execute(
            "SELECT count(*) FROM schema_version WHERE version = 1 AND name = 'init'"
        ).fetchone()
    except duckdb.Error:
        return True  # another application's table of that name
    return not (row and row[0])


def _open(target: str, read_only: bool, timeout: float) -> duckdb.DuckDBPyConnection:
    """duckdb.connect, retrying a lock conflict with backoff for up to `timeout` seconds: readers
    hold the file for one query, a writer for one command."""
    deadline = time.monotonic() + timeout
    pause = 0.05
    while True:
        try:
            return duckdb.connect(target, read_only=read_only, config=DUCKDB_CONFIG)
        except duckdb.Error as exc:
            first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            if "Could not set lock" in first:
                if time.monotonic() + pause > deadline:
                    holder = re.search(r"\(PID (\d+)\)", first)
                    who = f" (PID {holder.group(1)})" if holder else ""
                    raise DatabaseLocked(
                        f"database {target} is in use by another process{who}: DuckDB allows one "
                        f"writer at a time; try again when it finishes "
                        f"(waited {timeout:g} s, {LOCK_TIMEOUT_ENV})"
                    ) from exc
                time.sleep(pause)
                pause = min(pause * 2, 1.0)
                continue
            if "sqlite" in first.lower():
                raise StoreError(f"{target} is not a DuckDB database (SQLite file?)") from exc
            damaged = damage_message(target, exc)
            raise StoreError(damaged or f"cannot open database {target}: {first}") from exc


def connect(
    path: str | Path,
    *,
    read_only: bool = False,
    migrate_schema: bool = True,
    lock_timeout: float | None = None,
) -> duckdb.DuckDBPyConnection:
    """Open (creating if needed) a costlab database and bring its schema up to date.

    Refused with a one-line StoreError: a missing file (read-only), a folder, a FIFO or device,
    a SQLite file, a damaged or truncated file, another application's DuckDB file (unless
    `--init-foreign-db` / COSTLAB_INIT_FOREIGN_DB=1, for writing). A lock held by another process
    is waited for (COSTLAB_LOCK_TIMEOUT_S, default 30 s), then DatabaseLocked.
    """
    target = str(path)
    timeout = _lock_timeout() if lock_timeout is None else lock_timeout
    if target == ":memory:":
        conn = duckdb.connect(target, config=DUCKDB_CONFIG)
    else:
        p = Path(target)
        if read_only:
            require_database(p)
        _check_file(p)
        conn = _open(target, read_only, timeout)
        try:
            _check_size(conn, p)
            if _is_foreign(conn) and (read_only or not _foreign_allowed()):
                raise StoreError(
                    f"{target} is a DuckDB database of another application (no costlab "
                    f"schema_version): use another --db, or pass --init-foreign-db "
                    f"({FOREIGN_ENV}=1) to add costlab's tables to it"
                )
        except duckdb.Error as exc:
            conn.close()
            raise StoreError(damage_message(target, exc) or f"cannot read {target}: {exc}") from exc
        except StoreError:
            conn.close()
            raise
    conn.execute("SET TimeZone = 'UTC'")
    # DuckDB draws a progress bar on stdout for queries over 2 s: it would corrupt --format json.
    # In Jupyter DuckDB refuses the setting without ipywidgets; there it draws no text bar anyway.
    with suppress(duckdb.InvalidInputException):
        conn.execute("SET enable_progress_bar = false")
    if migrate_schema and not read_only:
        migrate(conn)
        if target != ":memory:":
            mark_interrupted_runs(conn)
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


# Who books a collection run: a run still 'running' whose process is gone was interrupted.
HOST = socket.gethostname()
_PROCESS_STARTED = datetime.now(UTC)


def run_owner() -> dict[str, object]:
    return {"pid": os.getpid(), "host": HOST}


def mark_interrupted_runs(conn: duckdb.DuckDBPyConnection) -> int:
    """Runs left 'running' by a process that is gone become 'interrupted', with a message.

    Called on a write connection: DuckDB lets one process write, so a run of any other process
    (or of an earlier process with this pid) cannot still be going."""
    rows = conn.execute(
        load_sql("meta/interrupted_runs"),
        {
            "pid": os.getpid(),
            "host": HOST,
            "process_started": _PROCESS_STARTED,
            "now": datetime.now(UTC),
        },
    ).fetchall()
    for run_id, source, pid, host in rows:
        log.warning(
            "collection run %s (%s, pid %s on %s) was interrupted (killed or crashed): "
            "marked 'interrupted'; the next run reloads its window",
            run_id,
            source,
            pid if pid is not None else "?",
            host or "?",
        )
    return len(rows)


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
