"""Exposition text (tests/conformance/*.prom) to costlab sample frames, with prometheus_client's
parser. A line the parser rejects is returned, not dropped silently; `as_stored` applies what
Prometheus does on ingestion that matters to costlab: an empty label value is no label."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import polars as pl
from prometheus_client.parser import text_string_to_metric_families

HERE = Path(__file__).resolve().parent
TS = datetime(2026, 11, 1, tzinfo=UTC)


def sample_rows(text: str, as_stored: bool = True) -> tuple[list[dict], list[str]]:
    rows: list[dict] = []
    rejected: list[str] = []
    for line in text.splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        try:
            samples = [s for fam in text_string_to_metric_families(line) for s in fam.samples]
        except ValueError:
            rejected.append(line)
            continue
        for s in samples:
            labels = {k: v for k, v in s.labels.items() if v != "" or not as_stored}
            rows.append({"metric": s.name, "value": float(s.value), **labels})
    return rows, rejected


def frame(rows: list[dict], cluster: str = "c", ts: datetime = TS) -> pl.DataFrame:
    return pl.DataFrame(rows, infer_schema_length=None).with_columns(
        pl.lit(ts).dt.cast_time_unit("us").alias("ts"), pl.lit(cluster).alias("cluster")
    )


def read(name: str, as_stored: bool = True) -> tuple[pl.DataFrame, list[str]]:
    rows, rejected = sample_rows((HERE / name).read_text(), as_stored)
    return frame(rows), rejected


def commented_series(name: str, prefix: str) -> list[str]:
    """Series lines kept as comments in a sample (dcgm_synthetic.prom's section B: the stored,
    post-scrape view), uncommented."""
    return [
        line[2:]
        for line in (HERE / name).read_text().splitlines()
        if line.startswith(f"# {prefix}")
    ]
