"""The Parquet layout: export from a database, read in place by DuckDB, engine output loaded back."""

from __future__ import annotations

import shutil

import pytest

from costlab import store
from costlab.allocate.gpu import allocate_window
from costlab.errors import StoreError
from costlab.scale import parquet_layout as layout
from costlab.timeutil import Window

ORDER = "SELECT * FROM allocation ORDER BY window_start_ts, cluster, node, namespace, pod"


@pytest.fixture(scope="module")
def lake(demo_db, tmp_path_factory):
    root = tmp_path_factory.mktemp("lake")
    conn = store.connect(demo_db, read_only=True)
    try:
        written = layout.export_parquet(conn, root, batch_rows=50_000)
    finally:
        conn.close()
    return root, written


def test_export_writes_hive_folders_and_every_table(lake, demo_db):
    root, written = lake
    assert set(written) == set(layout.catalogue())
    days = sorted(p.name for p in (root / "gpu_samples").glob("cluster=*/date=*"))
    assert days and all(d.startswith("date=2026-") for d in days)
    conn = store.connect(demo_db, read_only=True)
    try:
        assert (
            written["gpu_samples"]
            == conn.execute("SELECT count(*) FROM gpu_samples").fetchall()[0][0]
        )
    finally:
        conn.close()


def test_duckdb_allocates_on_parquet_in_place(lake, demo_db):
    """attach_parquet + the unchanged allocate_window give the database's own allocation."""
    root, _ = lake
    conn = store.connect(demo_db, read_only=True)
    try:
        expected = conn.execute(ORDER).fetchall()
        first, last = conn.execute(
            "SELECT min(window_start_ts), max(window_end_ts) FROM allocation"
        ).fetchall()[0]
    finally:
        conn.close()
    parquet = store.connect(":memory:")
    attached = layout.attach_parquet(parquet, root)
    assert "gpu_samples" in attached and "allocation" not in attached
    allocate_window(parquet, Window(first, last), last)
    assert parquet.execute(ORDER).fetchall() == expected


def test_import_results_replaces_the_window(lake, demo_db, tmp_path):
    """Loading engine output twice leaves one copy (delete-then-insert per run window)."""
    root, _ = lake
    out = tmp_path / "out"
    conn = store.connect(demo_db, read_only=True)
    try:
        for table in layout.RESULT_TABLES:
            layout.write_table(conn.cursor().table(table).to_arrow_reader(), out, table)
        expected = conn.execute(ORDER).fetchall()
    finally:
        conn.close()
    layout.record_tables(out, layout.RESULT_TABLES)
    copy = tmp_path / "copy.duckdb"
    shutil.copyfile(demo_db, copy)
    target = store.connect(copy)
    try:
        for _ in range(2):
            loaded = layout.import_results(target, out)
        assert loaded["allocation"] == len(expected)
        assert target.execute(ORDER).fetchall() == expected
        assert target.execute("SELECT count(*) FROM allocation_runs").fetchall()[0][0] == 1
    finally:
        target.close()


def test_missing_layout_is_a_store_error(tmp_path):
    with pytest.raises(StoreError):
        layout.attach_parquet(store.connect(":memory:"), tmp_path)


def test_unsafe_partition_values_are_refused(tmp_path):
    import pyarrow as pa

    batch = pa.RecordBatch.from_pylist(
        [{"cluster": "../evil", "namespace": "n", "key": "team", "value": "x"}],
        schema=layout.arrow_schema("namespace_labels"),
    )
    with pytest.raises(StoreError):
        layout.write_table([batch], tmp_path, "namespace_labels")
