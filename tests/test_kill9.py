"""SIGKILL in the middle of `demo`, `allocate`, `report` and `export parquet` (the Prometheus
collector's is in tests/collect/test_kill9_prometheus.py): the database still opens, money is
conserved (every allocation run's node cost is allocated to the micro-dollar), and running the
command again gives what one uninterrupted run gives.

Each command runs as a child process with COSTLAB_PROGRESS_INTERVAL=0, so it prints a progress
line on stderr after every step; the child is killed when the line of the chosen step appears."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest

from costlab import store
from costlab.scale import parquet_layout as layout

pytestmark = pytest.mark.service

REPO = Path(__file__).resolve().parent.parent
# columns that name a run or when it happened: two equal runs differ there and only there
VOLATILE = {
    "run_id",
    "started_ts",
    "finished_ts",
    "updated_ts",
    "applied_ts",
    "recorded_ts",
    "pid",
    "host",
    "message",
    "status",
}
# bookkeeping with a row per run: a killed run plus its rerun has one row more
PER_RUN = {"allocation_runs", "collection_runs", "schema_version"}
DEMO_DAYS = 3
WEEK = "2026-W47"  # the demo's last 3 days (it ends 2026-11-23 00:00 UTC) lie in this ISO week


def costlab(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [sys.executable, "-m", "costlab.cli", *args],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=REPO,
        env={**os.environ, **(env or {})},
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return result


def kill_when(
    args: list[str], ready: Callable[[str], bool], env: dict[str, str] | None = None
) -> list[str]:
    """Run `costlab ARGS`, SIGKILL it when a stderr line satisfies `ready`; the lines seen."""
    child = subprocess.Popen(
        [sys.executable, "-m", "costlab.cli", *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        cwd=REPO,
        env={**os.environ, "COSTLAB_PROGRESS_INTERVAL": "0", **(env or {})},
    )
    seen: list[str] = []
    assert child.stderr is not None
    try:
        for line in child.stderr:
            seen.append(line.rstrip())
            if ready(line):
                os.kill(child.pid, signal.SIGKILL)
                break
    finally:
        child.kill()
        child.wait(60)
    assert child.returncode == -signal.SIGKILL, f"finished before the kill: {seen}"
    return seen


def _value(col: str, dtype: str) -> str:
    # DuckDB sums doubles in parallel, in no fixed order: two equal runs may differ in the last
    # bits of GPU-hours (never in money, which is integer micro-dollars)
    return f'round("{col}", 9)' if dtype.upper() in ("DOUBLE", "FLOAT", "REAL") else f'"{col}"'


def fingerprint(
    conn: duckdb.DuckDBPyConnection, relations: dict[str, list[tuple[str, str]]]
) -> dict:
    """Per relation: row count and an order-independent hash of its rows (volatile columns out)."""
    out = {}
    for name, cols in sorted(relations.items()):
        keep = ", ".join(_value(c, t) for c, t in cols if c not in VOLATILE)
        out[name] = conn.execute(
            f'SELECT count(*), coalesce(sum(hash({keep})::HUGEINT), 0) FROM "{name}"'
        ).fetchall()[0]
    return out


def db_fingerprint(path: Path) -> dict:
    conn = store.connect(path, read_only=True)
    try:
        tables = conn.execute(
            "SELECT table_name, list((column_name, data_type) ORDER BY ordinal_position) "
            "FROM information_schema.columns WHERE table_catalog = current_database() "
            "GROUP BY table_name"
        ).fetchall()
        return fingerprint(conn, {t: cols for t, cols in tables if t not in PER_RUN})
    finally:
        conn.close()


def assert_conserved(path: Path) -> int:
    """Every allocation run allocated its node cost exactly, and the allocation rows of its
    window still add up to it; returns how many runs were checked."""
    conn = store.connect(path, read_only=True)
    try:
        runs = conn.execute(
            "SELECT r.total_node_cost_usd_micros, r.allocated_usd_micros, "
            "  (SELECT coalesce(sum(a.gpu_cost_usd_micros), 0) FROM allocation a "
            "   WHERE a.window_start_ts >= r.window_start_ts "
            "     AND a.window_start_ts < r.window_end_ts) "
            "FROM allocation_runs r"
        ).fetchall()
    finally:
        conn.close()
    for total, allocated, rows in runs:
        assert total == allocated == rows
    return len(runs)


@pytest.fixture(scope="module")
def base_db(tmp_path_factory) -> Path:
    """A demo database (loaded and allocated by the CLI), copied by each test."""
    path = tmp_path_factory.mktemp("kill9") / "base.duckdb"
    costlab("--db", str(path), "demo", "--days", str(DEMO_DAYS))
    assert assert_conserved(path) == 1
    return path


def copy_of(base: Path, path: Path) -> Path:
    shutil.copyfile(base, path)
    return path


def test_demo_killed_mid_load(tmp_path):
    killed, clean = tmp_path / "killed.duckdb", tmp_path / "clean.duckdb"
    kill_when(["--db", str(killed), "demo", "--days", "1"], lambda s: s.startswith("demo: 1/"))
    conn = store.connect(killed)  # opens; the dead run is marked
    try:
        assert conn.execute("SELECT source, status FROM collection_runs").fetchall() == [
            ("demo", "interrupted")
        ]
        assert 0 < conn.execute("SELECT count(*) FROM gpu_samples").fetchone()[0]
    finally:
        conn.close()
    assert assert_conserved(killed) == 0  # killed before its allocation
    costlab("--db", str(killed), "demo", "--days", "1")
    costlab("--db", str(clean), "demo", "--days", "1")
    assert assert_conserved(killed) == assert_conserved(clean) == 1
    assert db_fingerprint(killed) == db_fingerprint(clean)


def test_allocate_killed_between_chunks(base_db, tmp_path):
    killed = copy_of(base_db, tmp_path / "killed.duckdb")
    clean = copy_of(base_db, tmp_path / "clean.duckdb")
    one_day = {"COSTLAB_ALLOCATE_MAX_WINDOW_DAYS": "1"}  # 3 chunks: a progress line after each
    args = ["allocate", "--format", "json"]
    kill_when(["--db", str(killed), *args], lambda s: s.startswith("allocate: 1/3"), one_day)
    assert assert_conserved(killed) >= 2  # the demo's run and the killed run's first chunk
    costlab("--db", str(killed), *args, env=one_day)
    costlab("--db", str(clean), *args, env=one_day)
    assert_conserved(killed)
    assert_conserved(clean)
    assert db_fingerprint(killed) == db_fingerprint(clean)


def _report_files(out: Path) -> dict[str, object]:
    files: dict[str, object] = {}
    for p in sorted(out.iterdir()):
        if p.suffix == ".parquet":
            files[p.name] = pq.read_table(p)
        elif p.suffix == ".html":
            # the page names the time it was generated: the only difference between two runs
            files[p.name] = re.sub(r"generated[^<]*", "", p.read_text(encoding="utf-8"))
        else:
            files[p.name] = p.read_bytes()
    return files


def test_report_killed_while_writing(base_db, tmp_path):
    db = copy_of(base_db, tmp_path / "db.duckdb")
    out, clean = tmp_path / "out", tmp_path / "clean"
    args = ["--db", str(db), "report", "--period", WEEK]
    kill_when([*args, "--out", str(out)], lambda s: s.startswith("report: 3/4"))
    names = [f"report-{WEEK}.html", f"allocation-{WEEK}.csv", f"focus-{WEEK}.csv"]
    # never a folder with some of the files: none, or all of them
    assert not out.exists() or set(names) <= {p.name for p in out.iterdir()}
    assert_conserved(db)
    costlab(*args, "--out", str(out))
    costlab(*args, "--out", str(clean))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clean", "db.duckdb", "out"]
    assert _report_files(out) == _report_files(clean)


def test_export_parquet_killed_mid_write(base_db, tmp_path):
    db = copy_of(base_db, tmp_path / "db.duckdb")
    out, clean = tmp_path / "out", tmp_path / "clean"
    child = subprocess.Popen(
        [sys.executable, "-m", "costlab.cli", "--db", str(db), "export", "parquet"]
        + ["--out", str(out)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        cwd=REPO,
    )
    try:
        deadline = time.monotonic() + 120
        # killed once the first table's files appear: mid-way through the tables
        while not any(out.rglob("*.parquet")) and time.monotonic() < deadline:
            assert child.poll() is None, "export finished before the kill"
            time.sleep(0.01)
        os.kill(child.pid, signal.SIGKILL)
    finally:
        child.kill()
        child.wait(60)
    assert child.returncode == -signal.SIGKILL
    assert not (out / layout.MANIFEST).exists() or layout.tables_in(out) != []
    assert assert_conserved(db) == 1  # the database (opened read-only) is untouched
    costlab("--db", str(db), "export", "parquet", "--out", str(out))
    costlab("--db", str(db), "export", "parquet", "--out", str(clean))
    assert layout.tables_in(out) == layout.tables_in(clean)
    conn = duckdb.connect()
    try:
        prints = []
        for root in (out, clean):
            relations = {}
            for table in layout.tables_in(root):
                view = f"{table}_{root.name}"
                conn.register(view, layout.arrow_dataset(root, table).to_table())
                relations[view] = [(c.name, c.duckdb_type) for c in layout.columns_of(table)]
            prints.append(
                {
                    k.removesuffix(f"_{root.name}"): v
                    for k, v in fingerprint(conn, relations).items()
                }
            )
        assert prints[0] == prints[1]
        assert prints[0]["allocation"][0] > 0
    finally:
        conn.close()
