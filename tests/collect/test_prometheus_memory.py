"""Memory stays bounded as the range grows: the collector holds the chunk being loaded and the one
being fetched, never the whole range.

Same series (40 GPUs x 6 DCGM metrics = 240 series), `max_samples_per_query` = 48,000 (200 points
per chunk): a 2-chunk range and an 8-chunk range (4x the samples) are collected in child
processes. The 8-chunk run keeps at most 2 chunks' frames alive at once and its peak RSS is within
a small margin of the 2-chunk run's (both are dominated by the interpreter, polars and DuckDB;
one chunk of 48,000 samples is a few MiB).
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
GPUS, POINTS_PER_CHUNK = 40, 200
MAX_SAMPLES = GPUS * len(series.DCGM_FIELDS) * POINTS_PER_CHUNK


@pytest.fixture(scope="module")
def dcgm_prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PromServer]:
    root = tmp_path_factory.mktemp("prom-mem")
    points = 8 * POINTS_PER_CHUNK
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
        ],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_peak_memory_does_not_grow_with_the_range(dcgm_prometheus, tmp_path):
    short = _run(dcgm_prometheus.url, tmp_path / "short.duckdb", 2)
    long = _run(dcgm_prometheus.url, tmp_path / "long.duckdb", 8)
    assert (short["chunks"], long["chunks"]) == (2, 8)
    assert long["samples"] == 4 * short["samples"] == 8 * MAX_SAMPLES
    # The chunk being loaded and the one fetched ahead, never more.
    assert long["most_alive"] <= 2
    # 4x the samples, (nearly) the same peak: the bound is per chunk, not per range. Keeping the
    # range would add >= 6 chunks x 48,000 samples x ~100 B (~30 MiB); measured: 254 -> 268 MiB.
    assert long["rss_mib"] - short["rss_mib"] < 24, (short, long)
