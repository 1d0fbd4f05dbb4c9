"""`costlab collect prometheus` SIGKILLed mid-range against a real Prometheus (blocks built with
promtool, see conftest.py): the database opens, the killed run is marked 'interrupted', and
running the same command again stores exactly what one uninterrupted backfill stores."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from prom_fleet import T0, at
from prom_snapshot import backfill_snapshot, snapshot

from costlab import store
from costlab.timeutil import Window

pytestmark = pytest.mark.service

PROGRESS = re.compile(r"prometheus: (\d+)/(\d+) chunks")
REPO = Path(__file__).resolve().parents[2]
FULL = Window(T0, at(480))
# small chunks (many progress lines), retries without the production backoff
ENV = {
    "COSTLAB_PROGRESS_INTERVAL": "0",
    "COSTLAB_PROM_MAX_SAMPLES_PER_QUERY": "600",
    "COSTLAB_PROM_BACKOFF_S": "0.01",
    "COSTLAB_PROM_MAX_BACKOFF_S": "0.05",
}


def collect_cli(db: Path, url: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "costlab.cli",
        "--db",
        str(db),
        "collect",
        "prometheus",
        "--url",
        url,
        "--start",
        FULL.start.isoformat(),
        "--end",
        FULL.end.isoformat(),
    ]


def test_collect_killed_at_a_progress_line_then_rerun_equals_uninterrupted(
    fleet_prometheus, tmp_path
):
    db = tmp_path / "killed.duckdb"
    env = {**os.environ, **ENV}
    child = subprocess.Popen(
        collect_cli(db, fleet_prometheus.url),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        cwd=REPO,
        env=env,
    )
    seen = []
    assert child.stderr is not None
    try:
        for line in child.stderr:
            seen.append(line)
            done = PROGRESS.match(line)
            # half-way: some chunks of every query group loaded, others not
            if done and int(done[1]) >= int(done[2]) // 2:
                os.kill(child.pid, signal.SIGKILL)
                break
    finally:
        child.kill()
        child.wait(60)
    assert child.returncode == -signal.SIGKILL, f"finished before the kill: {seen}"

    reference = backfill_snapshot(fleet_prometheus.url, FULL)
    conn = store.connect(db)
    try:
        assert conn.execute("SELECT status FROM collection_runs").fetchall() == [("interrupted",)]
        partial = snapshot(conn)
        assert partial != reference
        assert 0 < sum(map(len, partial.values())) < sum(map(len, reference.values()))
    finally:
        conn.close()
    rerun = subprocess.run(
        collect_cli(db, fleet_prometheus.url),
        capture_output=True,
        text=True,
        timeout=600,
        cwd=REPO,
        env=env,
    )
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    conn = store.connect(db, read_only=True)
    try:
        assert snapshot(conn) == reference
        assert sorted(
            r[0] for r in conn.execute("SELECT status FROM collection_runs").fetchall()
        ) == [
            "interrupted",
            "ok",
        ]
    finally:
        conn.close()
