"""The library functions behind `costlab export parquet` and `costlab allocate --input`."""

from __future__ import annotations

import shutil

import pytest

from costlab import store
from costlab.allocate.run import allocate_with_engine
from costlab.errors import UsageError
from costlab.export.parquet import export_database


def test_export_then_allocate_from_parquet_matches_the_database(demo_db, tmp_path):
    lake = tmp_path / "lake"
    report = export_database(demo_db, str(lake))
    assert report.rows["gpu_samples"] > 0 and (lake / "_costlab_layout.json").is_file()
    direct = tmp_path / "direct.duckdb"
    shutil.copyfile(demo_db, direct)
    via_parquet = tmp_path / "empty.duckdb"
    store.connect(via_parquet).close()
    a = allocate_with_engine(direct, engine="duckdb", by="team", idle="share")
    b = allocate_with_engine(
        via_parquet, engine="duckdb", input_root=str(lake), by="team", idle="share"
    )
    assert b.total_node_cost_usd_micros == a.total_node_cost_usd_micros
    assert [(r.tenant, r.cost_usd_micros) for r in b.rows] == [
        (r.tenant, r.cost_usd_micros) for r in a.rows
    ]


def test_spark_engine_needs_an_input(tmp_path):
    with pytest.raises(UsageError):
        allocate_with_engine(tmp_path / "x.duckdb", engine="spark")
