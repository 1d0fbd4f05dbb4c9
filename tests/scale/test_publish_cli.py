"""`costlab collect prometheus|langfuse --parquet ROOT`: collect, then publish what the run touched.

The sources are the collectors' own test servers (tests/collect): a real Prometheus over TSDB
blocks of the hand-checked fleet (prom_fleet.py), and the spec-checked fake LangFuse.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from costlab import store
from costlab.cli import app
from costlab.errors import UsageError
from costlab.scale import parquet_layout as layout
from costlab.scale import publish as pub
from tests.scale.lake import assert_layout_equals_database, local_files

COLLECT_TESTS = str(Path(__file__).resolve().parents[1] / "collect")
if COLLECT_TESTS not in sys.path:
    sys.path.insert(0, COLLECT_TESTS)

from lf_data import build  # noqa: E402
from lf_server import FakeLangfuse  # noqa: E402
from prom_fleet import TYPES, at, fleet_series  # noqa: E402
from prom_server import PromServer, build_blocks, write_openmetrics  # noqa: E402

PROMETHEUS_TABLES = pub.SOURCE_TABLES["prometheus"]


def invoke(*args: str):
    result = CliRunner().invoke(app, list(args))
    assert result.exit_code == 0, (result.output, result.exception)
    return result


@pytest.fixture(scope="module")
def fleet_prometheus(tmp_path_factory) -> Iterator[PromServer]:
    if not Path("/usr/bin/prometheus").exists():
        pytest.fail("/usr/bin/prometheus is missing: .ci/run installs Debian's prometheus")
    root = tmp_path_factory.mktemp("prom-fleet")
    write_openmetrics(root / "fleet.om", fleet_series(), TYPES)
    build_blocks(root / "fleet.om", root / "data")
    with PromServer(root / "data") as server:
        yield server


@pytest.mark.service
def test_collect_prometheus_publishes_each_window_without_double_counting(
    fleet_prometheus, tmp_path
):
    db, root = tmp_path / "state.duckdb", tmp_path / "lake"
    windows = [(at(0), at(240)), (at(240), at(480)), (at(0), at(240))]  # the last one re-collects
    for start, end in windows:
        result = invoke(
            "--db",
            str(db),
            "collect",
            "prometheus",
            "--url",
            fleet_prometheus.url,
            "--start",
            start.isoformat(),
            "--end",
            end.isoformat(),
            "--cluster",
            "prod",
            "--parquet",
            str(root),
        )
        assert "published" in result.output
        conn = store.connect(db)
        try:
            assert_layout_equals_database(conn, root, PROMETHEUS_TABLES)
        finally:
            conn.close()
    assert sorted(p.relative_to(root).as_posix() for p in root.glob("gpu_samples/*/*")) == [
        "gpu_samples/cluster=prod/date=2026-11-01"
    ]
    assert not (root / "llm_observations").exists()
    assert layout.unfinished_publishes(root) == [] and pub.read_cursor(root, "prometheus")


@pytest.mark.service
def test_collect_langfuse_publishes_observations(tmp_path, monkeypatch):
    observations, _ = build()
    server = FakeLangfuse(observations=observations).start()
    try:
        monkeypatch.setenv("LANGFUSE_PUBLIC_KEY", server.public_key)
        monkeypatch.setenv("LANGFUSE_SECRET_KEY", server.secret_key)
        monkeypatch.setenv("COSTLAB_LANGFUSE_INITIAL_START", "2023-11-16T18:00:00Z")
        monkeypatch.setenv("COSTLAB_LANGFUSE_CHUNK", "P5000D")  # one chunk from 2023 to now
        db, root = tmp_path / "state.duckdb", tmp_path / "lake"
        for _ in range(2):
            result = invoke(
                "--db", str(db), "collect", "langfuse", "--host", server.url, "--parquet", str(root)
            )
            assert "published" in result.output
        files = local_files(root)
        assert [f for f in files if f.startswith("llm_observations/date=2023-11-16/part-")]
        conn = store.connect(db)
        try:
            assert conn.execute("SELECT count(*) FROM llm_observations").fetchone()[0] == 60
            assert_layout_equals_database(
                conn, root, ["llm_observations", "watermarks", "collection_runs"]
            )
        finally:
            conn.close()
    finally:
        server.stop()


def test_a_bad_root_fails_before_collecting(tmp_path):
    db = tmp_path / "state.duckdb"
    result = CliRunner().invoke(
        app,
        [
            "--db",
            str(db),
            "collect",
            "langfuse",
            "--host",
            "http://127.0.0.1:9",
            "--parquet",
            "gs://x/y",
        ],
    )
    assert isinstance(result.exception, UsageError) and "s3://" in str(result.exception)
    assert not db.exists()  # nothing was collected
