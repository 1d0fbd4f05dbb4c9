"""--db files costlab did not write, crash leftovers and lock conflicts: a one-line error or a
bounded wait, never a hang, a traceback, an extension download or another application's file
changed. Every case uses a real file of that kind (sqlite3, os.mkfifo, duckdb, a damaged copy of
a real costlab database) or a real second process holding the lock."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pytest

from costlab import store
from costlab.collect import sink
from costlab.errors import StoreError

REPO = Path(__file__).resolve().parent.parent


def costlab(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", "from costlab.cli import main; main()", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **(env or {})},
    )


def one_line_error(result: subprocess.CompletedProcess[str], code: int, fragment: str) -> str:
    assert result.returncode == code, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert fragment in lines[0], lines[0]
    return lines[0]


def tables(path: Path) -> set[str]:
    conn = duckdb.connect(str(path), read_only=True)
    try:
        return {
            r[0]
            for r in conn.execute("SELECT table_name FROM information_schema.tables").fetchall()
        }
    finally:
        conn.close()


# ------------------------------------------------------------------ files that are not ours


def test_every_connection_has_extension_autoload_and_autoinstall_off(tmp_path):
    setting = "SELECT current_setting('autoinstall_known_extensions'), current_setting('autoload_known_extensions')"
    for conn in (store.connect(":memory:"), store.connect(tmp_path / "a.duckdb")):
        try:
            assert conn.execute(setting).fetchone() == (False, False)
        finally:
            conn.close()
    conn = store.connect(tmp_path / "a.duckdb", read_only=True)
    try:
        assert conn.execute(setting).fetchone() == (False, False)
    finally:
        conn.close()


def test_sqlite_file_is_refused_in_one_line(tmp_path):
    path = tmp_path / "app.sqlite"
    lite = sqlite3.connect(path)
    lite.execute("CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT)")
    lite.commit()
    lite.close()
    before = path.read_bytes()
    for read_only in (False, True):
        with pytest.raises(StoreError) as err:
            store.connect(path, read_only=read_only)
        assert str(err.value) == f"{path} is not a DuckDB database (SQLite file?)"
    one_line_error(
        costlab("--db", str(path), "allocate"), 2, "is not a DuckDB database (SQLite file?)"
    )
    assert path.read_bytes() == before


def test_fifo_directory_and_device_are_refused_without_opening(tmp_path):
    fifo = tmp_path / "pipe.duckdb"
    os.mkfifo(fifo)
    # a child process, so a regression hangs the child (timeout), not the test session
    line = one_line_error(costlab("--db", str(fifo), "allocate"), 2, "is not a regular file")
    assert str(fifo) in line
    one_line_error(costlab("--db", str(fifo), "tokens"), 2, "is not a regular file")
    with pytest.raises(StoreError, match="is a directory"):
        store.connect(tmp_path)
    with pytest.raises(StoreError, match="is not a regular file"):
        store.connect("/dev/null", read_only=True)


def test_foreign_duckdb_file_is_left_alone_unless_asked(tmp_path, monkeypatch):
    path = tmp_path / "other_app.duckdb"
    other = duckdb.connect(str(path))
    other.execute("CREATE TABLE invoices (id INTEGER, amount DECIMAL(10, 2))")
    other.execute("INSERT INTO invoices VALUES (1, 9.99)")
    other.close()
    for read_only in (False, True):
        with pytest.raises(StoreError, match="DuckDB database of another application"):
            store.connect(path, read_only=read_only)
    line = one_line_error(
        costlab("--db", str(path), "allocate"), 2, "DuckDB database of another application"
    )
    assert "--init-foreign-db" in line and str(path) in line
    assert tables(path) == {"invoices"}

    # asked for: costlab's tables are added next to the application's, whose rows stay
    monkeypatch.setenv(store.FOREIGN_ENV, "1")
    store.connect(path).close()
    monkeypatch.delenv(store.FOREIGN_ENV)
    assert {"invoices", "schema_version", "collection_runs", "allocation"} <= tables(path)
    conn = store.connect(path, read_only=True)  # a costlab database from now on
    try:
        assert conn.execute("SELECT id, amount::VARCHAR FROM invoices").fetchall() == [(1, "9.99")]
    finally:
        conn.close()


def test_init_foreign_db_flag(tmp_path):
    path = tmp_path / "other_app.duckdb"
    other = duckdb.connect(str(path))
    other.execute("CREATE TABLE events (id INTEGER)")
    other.close()
    costlab("--init-foreign-db", "--db", str(path), "allocate")
    assert {"events", "schema_version", "allocation"} <= tables(path)


def test_a_table_named_schema_version_is_not_costlabs_marker(tmp_path):
    path = tmp_path / "flyway.duckdb"
    other = duckdb.connect(str(path))
    other.execute("CREATE TABLE schema_version (installed_rank INTEGER, script VARCHAR)")
    other.execute("CREATE TABLE accounts (id INTEGER)")
    other.close()
    with pytest.raises(StoreError, match="another application"):
        store.connect(path)
    assert tables(path) == {"schema_version", "accounts"}


def test_an_empty_new_file_and_a_costlab_database_open(tmp_path):
    path = tmp_path / "new.duckdb"
    store.connect(path).close()
    store.connect(path).close()
    store.connect(path, read_only=True).close()


@pytest.fixture
def demo_copy(demo_db, tmp_path) -> Path:
    path = tmp_path / "copy.duckdb"
    shutil.copyfile(demo_db, path)
    return path


def test_truncated_costlab_database_is_one_line_naming_the_file(demo_copy):
    data = demo_copy.read_bytes()
    # (cut by more than the free blocks at the end, which DuckDB may itself have cut off)
    for keep in (len(data) // 2, len(data) * 9 // 10):
        demo_copy.write_bytes(data[:keep])
        for read_only in (False, True):
            with pytest.raises(StoreError, match="truncated") as err:
                store.connect(demo_copy, read_only=read_only)
            assert str(demo_copy) in str(err.value)
        line = one_line_error(costlab("--db", str(demo_copy), "allocate"), 2, "truncated")
        assert str(demo_copy) in line
    # cut inside the first pages: DuckDB itself cannot read the header
    demo_copy.write_bytes(data[:1000])
    one_line_error(costlab("--db", str(demo_copy), "tokens"), 2, str(demo_copy))
    demo_copy.write_bytes(b"")
    one_line_error(costlab("--db", str(demo_copy), "tokens"), 2, "is not a DuckDB database")


def test_corrupted_block_is_one_line_naming_the_file(demo_copy):
    conn = duckdb.connect(str(demo_copy), read_only=True)
    try:
        block_size = conn.execute("SELECT block_size FROM pragma_database_size()").fetchone()[0]
        block = conn.execute(
            "SELECT max(block_id) FROM pragma_storage_info('gpu_samples') WHERE block_id >= 0"
        ).fetchone()[0]
    finally:
        conn.close()
    # the file: 3 header pages of 4 KiB, then the blocks (each starting with its checksum)
    offset = 3 * 4096 + block * block_size + 64
    with demo_copy.open("r+b") as f:
        f.seek(offset)
        f.write(os.urandom(4096))
    result = costlab("--db", str(demo_copy), "export", "parquet", "--out", str(demo_copy.parent))
    line = one_line_error(result, 1, "is damaged or truncated")
    assert str(demo_copy) in line


# ------------------------------------------------------------------ crash leftovers


def test_runs_of_a_gone_process_become_interrupted(tmp_path):
    path = tmp_path / "runs.duckdb"
    conn = store.connect(path)
    try:
        with sink.collection_run(conn, "prometheus") as mine:
            row = conn.execute(
                "SELECT pid, host FROM collection_runs WHERE run_id = $id", {"id": mine.run_id}
            ).fetchone()
            assert row == (os.getpid(), store.HOST)
        conn.execute(
            "INSERT INTO collection_runs (run_id, source, started_ts, status, pid, host) VALUES "
            "('dead', 'demo', $t, 'running', 999999, 'elsewhere'), "
            "('legacy', 'langfuse', $t, 'running', NULL, NULL)",
            {"t": datetime(2026, 1, 1, tzinfo=UTC)},
        )
        # a run of this very process, still open, is not touched by a second connection
        live = sink.collection_run(conn, "prices")
        run = live.__enter__()
        store.connect(path).close()
        status = dict(conn.execute("SELECT run_id, status FROM collection_runs").fetchall())
        assert status == {
            mine.run_id: "ok",
            "dead": "interrupted",
            "legacy": "interrupted",
            run.run_id: "running",
        }
        live.__exit__(None, None, None)
        message = conn.execute(
            "SELECT message FROM collection_runs WHERE run_id = 'dead'"
        ).fetchone()[0]
        assert message.startswith(
            "interrupted: its process (pid 999999 on elsewhere) ended without finishing"
        )
    finally:
        conn.close()


# ------------------------------------------------------------------ one writer, many readers

HOLD = """
import sys, time, duckdb
conn = duckdb.connect(sys.argv[1], read_only=sys.argv[2] == "ro")
print("holding", flush=True)
time.sleep(float(sys.argv[3]))
conn.close()
"""


def hold(path: Path, mode: str, seconds: float) -> subprocess.Popen[str]:
    child = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(path), mode, str(seconds)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert child.stdout is not None
    assert child.stdout.readline().strip() == "holding"
    return child


def test_reader_waits_for_the_writer_then_reads(demo_copy):
    child = hold(demo_copy, "rw", 2.0)
    try:
        with pytest.raises(store.DatabaseLocked, match="in use by another process"):
            store.connect(demo_copy, read_only=True, lock_timeout=0.3)
        started = time.monotonic()
        conn = store.connect(demo_copy, read_only=True, lock_timeout=60)
        assert time.monotonic() - started < 30
        assert conn.execute("SELECT count(*) FROM allocation").fetchone()[0] > 0
        conn.close()
    finally:
        child.wait(30)


def test_writer_waits_for_a_reader_instead_of_failing(demo_copy):
    child = hold(demo_copy, "ro", 2.0)
    try:
        conn = store.connect(demo_copy, lock_timeout=60)
        conn.close()
    finally:
        child.wait(30)


def test_cli_reader_gives_up_in_one_line_after_the_lock_timeout(demo_copy):
    child = hold(demo_copy, "rw", 30.0)
    try:
        result = costlab("--db", str(demo_copy), "tokens", env={store.LOCK_TIMEOUT_ENV: "0.5"})
        line = one_line_error(result, 2, "is in use by another process")
        assert f"(PID {child.pid})" in line
    finally:
        child.kill()
        child.wait(30)


def test_a_bad_lock_timeout_is_a_usage_error(tmp_path):
    store.connect(tmp_path / "x.duckdb").close()
    result = costlab(
        "--db", str(tmp_path / "x.duckdb"), "tokens", env={store.LOCK_TIMEOUT_ENV: "soon"}
    )
    one_line_error(result, 2, "COSTLAB_LOCK_TIMEOUT_S='soon' is not a number of seconds")
