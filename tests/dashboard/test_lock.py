"""The dashboard against a writer: DuckDB admits one writing process, so while `allocate` (or a
collector) holds the file the dashboard says it is updating instead of showing a lock error, and
the dashboard's reads (a read-only connection per query, closed at once) never make `allocate`
fail. Every read sees a complete allocation."""

from __future__ import annotations

import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from costlab import store
from dashboards import common
from dashboards.queries import Queries
from tests.dashboard.conftest import APP, REPO

HOLD = """
import sys, time, duckdb
conn = duckdb.connect(sys.argv[1])
print("holding", flush=True)
time.sleep(120)
"""


@pytest.fixture
def db(demo_db, tmp_path) -> Path:
    path = tmp_path / "dash.duckdb"
    shutil.copyfile(demo_db, path)
    return path


def test_page_says_updating_while_a_writer_holds_the_database(monkeypatch, db):
    writer = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(db)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert writer.stdout is not None and writer.stdout.readline().strip() == "holding"
        monkeypatch.setenv("COSTLAB_DB", str(db))
        monkeypatch.delenv("COSTLAB_TENANT", raising=False)
        at = AppTest.from_file(str(APP), default_timeout=120)
        at.run()
        assert not at.exception, [e.value for e in at.exception]
        assert not at.error, [e.value for e in at.error]
        assert [i.value for i in at.info] == [common.UPDATING]
    finally:
        writer.kill()
        writer.wait(30)
    # the writer is gone: the next run shows the page
    at.run()
    assert not at.exception and not at.info, [i.value for i in at.info]
    assert at.metric, "no figures once the database is free"


def test_allocate_succeeds_while_the_dashboard_reads(db):
    total_sql = "SELECT sum(gpu_cost_usd_micros) FROM allocation"
    conn = store.connect(db, read_only=True)
    expected = conn.execute(total_sql).fetchone()[0]
    conn.close()
    stop = threading.Event()
    seen: list[int] = []
    locked: list[int] = []
    failures: list[BaseException] = []

    def dashboard_reads() -> None:
        queries = Queries(str(db), cache=False)
        while not stop.is_set():
            try:
                assert not queries.options().empty
                c = store.connect(db, read_only=True, lock_timeout=0)
                try:
                    seen.append(c.execute(total_sql).fetchone()[0])
                finally:
                    c.close()
            except store.DatabaseLocked:
                locked.append(1)  # what the page shows as "updating"
            except BaseException as exc:  # noqa: BLE001 - reported by the test below
                failures.append(exc)
                return
            stop.wait(0.05)

    reader = threading.Thread(target=dashboard_reads)
    reader.start()
    try:
        stop.wait(1.0)
        result = subprocess.run(
            [sys.executable, "-m", "costlab.cli", "--db", str(db), "allocate"],
            capture_output=True,
            text=True,
            timeout=600,
            cwd=REPO,
        )
        stop.wait(1.0)
    finally:
        stop.set()
        reader.join(60)
    assert result.returncode == 0, result.stderr
    assert not failures, failures
    assert seen and set(seen) == {expected}  # before and after: a complete allocation
