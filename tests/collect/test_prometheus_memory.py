"""Memory stays bounded as the range grows: the collector holds the chunk being loaded and the
`max_concurrency` chunks being fetched, never the whole range.

Same series (40 GPUs x 6 DCGM metrics = 240 series), `max_samples_per_query` = 48,000 (200 points
per chunk), `max_concurrency` = 2: a 3-chunk range (which can already hold the 3 chunks the bound
allows) and a 12-chunk range (4x the samples) are collected in child processes. The 12-chunk run
keeps at most 3 chunks' frames alive at once and its peak RSS, less DuckDB's own memory (which
grows with the rows stored, bounded by its memory_limit), is within a small margin of the 3-chunk
run's (both are dominated by the interpreter, polars and DuckDB; one chunk of 48,000 samples is a
few MiB).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from prom_server import PromServer, build_blocks, write_openmetrics

from costlab.collect import series

pytestmark = pytest.mark.service

T0 = datetime(2026, 10, 1, tzinfo=UTC)
STEP = timedelta(seconds=15)
GPUS, POINTS_PER_CHUNK, CONCURRENCY = 40, 200, 2
MAX_SAMPLES = GPUS * len(series.DCGM_FIELDS) * POINTS_PER_CHUNK


@pytest.fixture(scope="module")
def dcgm_prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PromServer]:
    root = tmp_path_factory.mktemp("prom-mem")
    points = 12 * POINTS_PER_CHUNK
    fleet = [
        (
            metric,
            {"Hostname": f"node-{g // 8}", "UUID": f"GPU-{g:03d}", "gpu": str(g % 8)},
            [(T0 + STEP * i, float((i + g) % 100)) for i in range(points)],
        )
        for metric in series.DCGM_FIELDS
        for g in range(GPUS)
    ]
    write_openmetrics(root / "dcgm.om", fleet, {})
    build_blocks(root / "dcgm.om", root / "data")
    with PromServer(root / "data") as server:
        yield server


def _run(url: str, db: Path, chunks: int) -> dict:
    script = Path(__file__).with_name("prom_mem_run.py")
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[2]))
    end = T0 + STEP * POINTS_PER_CHUNK * chunks
    out = subprocess.run(
        [
            sys.executable,
            str(script),
            str(db),
            url,
            T0.isoformat(),
            end.isoformat(),
            str(MAX_SAMPLES),
            str(CONCURRENCY),
        ],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_peak_memory_does_not_grow_with_the_range(dcgm_prometheus, tmp_path):
    short = _run(dcgm_prometheus.url, tmp_path / "short.duckdb", 3)
    long = _run(dcgm_prometheus.url, tmp_path / "long.duckdb", 12)
    assert (short["chunks"], long["chunks"]) == (3, 12)
    assert long["samples"] == 4 * short["samples"] == 12 * MAX_SAMPLES
    # The chunk being loaded and the ones fetched ahead, never more.
    assert long["most_alive"] <= CONCURRENCY + 1
    # 4x the samples, (nearly) the same peak outside DuckDB, whose buffer pool and key index grow
    # with the rows stored (bounded by its memory_limit, reported by duckdb_memory()). Keeping the
    # range would add >= 9 chunks x 48,000 samples x ~100 B (~41 MiB) of frames.
    growth = (long["rss_mib"] - long["duckdb_mib"]) - (short["rss_mib"] - short["duckdb_mib"])
    assert growth < 24, (short, long)
