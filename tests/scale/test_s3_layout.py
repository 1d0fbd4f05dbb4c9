"""The Parquet layout on S3, against a local moto server: export, publish, read back, allocate.

DuckDB reads s3:// through pyarrow's S3 filesystem (no httpfs download). Everything read from S3
must equal the local-folder path and the database itself.
"""

from __future__ import annotations

import json
import math
import shutil
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta

import duckdb
import pyarrow.dataset as ds
import pytest

from costlab import store
from costlab.allocate.run import allocate_with_engine
from costlab.export.parquet import export_database
from costlab.scale import parquet_layout as layout
from costlab.scale import publish as pub
from costlab.timeutil import Window
from tests.scale.lake import (  # noqa: F401 (s3_bucket is a fixture)
    assert_layout_equals_database,
    differences,
    local_files,
    s3_bucket,
    s3_objects,
)

# Every test talks to moto's S3 server on a local port.
pytestmark = pytest.mark.service

DAY1 = Window(datetime(2026, 11, 21, tzinfo=UTC), datetime(2026, 11, 22, tzinfo=UTC))
DAY2 = Window(DAY1.end, DAY1.end + timedelta(days=1))
ALLOCATION = "SELECT * FROM allocation ORDER BY window_start_ts, cluster, node, namespace, pod"


@pytest.fixture(scope="module")
def lakes(demo_db, s3_bucket, tmp_path_factory):  # noqa: F811
    """The demo database exported to a local folder and to s3://<bucket>/demo."""
    local = tmp_path_factory.mktemp("local-lake")
    export_database(demo_db, str(local))
    s3 = f"s3://{s3_bucket}/demo"
    report = export_database(demo_db, s3)
    assert report.root == s3 and report.rows["gpu_samples"] > 0
    return local, s3


@pytest.fixture
def state(demo_db, tmp_path):
    path = tmp_path / "state.duckdb"
    shutil.copyfile(demo_db, path)
    conn = store.connect(path)
    yield conn
    conn.close()


def test_export_writes_the_same_objects_to_s3_as_files_locally(lakes, s3_bucket):  # noqa: F811
    local, _ = lakes
    assert set(s3_objects(s3_bucket, "demo/")) == set(local_files(local))


@pytest.mark.parametrize("table", ["gpu_samples", "nodes", "llm_observations"])
def test_hive_columns_come_back_as_from_local_files(lakes, table):
    """cluster= and date= read from S3 (pyarrow) equal DuckDB's hive_partitioning on local files."""
    local, s3 = lakes
    folders = layout.partitioning(table).folders
    conn = duckdb.connect()
    cols = ", ".join(folders)
    read_local = (
        f"SELECT DISTINCT {cols}, typeof(COLUMNS({folders[0]!r})) FROM read_parquet('{local}/{table}/**/*.parquet', "
        "hive_partitioning = true, hive_types_autocast = false) ORDER BY ALL"
    )
    conn.register("from_s3", layout.arrow_dataset(s3, table))
    read_s3 = f"SELECT DISTINCT {cols}, typeof(COLUMNS({folders[0]!r})) FROM from_s3 ORDER BY ALL"
    expected = conn.execute(read_local).fetchall()
    assert expected and conn.execute(read_s3).fetchall() == expected
    assert all(row[-1] == "VARCHAR" for row in expected)


def test_every_table_read_from_s3_equals_the_database(lakes, demo_db):
    _, s3 = lakes
    conn = store.connect(demo_db, read_only=True)
    try:
        assert_layout_equals_database(conn, s3, layout.catalogue())
    finally:
        conn.close()


def test_duckdb_pushes_filters_into_the_s3_dataset(lakes):
    """A window on ts reads fewer rows than the table: the filter reaches the pyarrow scanner."""
    _, s3 = lakes
    dataset = layout.arrow_dataset(s3, "gpu_samples")
    conn = store.connect(":memory:")
    layout.attach_parquet(conn, s3, tables=["gpu_samples"])
    plan = "\n".join(
        r[1]
        for r in conn.execute(
            "EXPLAIN SELECT count(*) FROM gpu_samples WHERE ts >= $d", {"d": DAY2.start}
        ).fetchall()
    )
    assert "ARROW_SCAN" in plan.upper() or "ARROW" in plan.upper()
    counted = conn.execute("SELECT count(*) FROM gpu_samples WHERE ts >= $d", {"d": DAY2.start})
    assert counted.fetchone()[0] == dataset.count_rows(filter=ds.field("date") == "2026-11-22")


def same(a, b) -> bool:
    """Equal, except DOUBLEs (GPU-hours) to 1e-9 relative: float sums depend on row order."""
    if isinstance(a, float) and isinstance(b, float):
        return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    return a == b


def test_allocating_from_s3_equals_the_local_folder_and_the_database(lakes, demo_db, tmp_path):
    """Every allocation row and the report: money to the micro-dollar, GPU-hours to 1e-9."""
    local, s3 = lakes
    results = {}
    for name, root in (("database", None), ("local", str(local)), ("s3", s3)):
        db = tmp_path / f"{name}.duckdb"
        if root is None:
            shutil.copyfile(demo_db, db)
        else:
            store.connect(db).close()
        result = allocate_with_engine(db, engine="duckdb", input_root=root, by="team", idle="share")
        conn = store.connect(db, read_only=True)
        rows = conn.execute(ALLOCATION).fetchall()
        conn.close()
        report = [(r.tenant, r.cost_usd_micros, r.gpu_hours) for r in result.rows]
        results[name] = (result.total_node_cost_usd_micros, report, rows)
    assert len(results["database"][2]) > 1000
    assert same(results["s3"], results["local"]) and same(results["s3"], results["database"])
    money = [[(r[0], r[1]) for r in res[1]] for res in results.values()]
    assert money[0] == money[1] == money[2]


def test_cli_allocates_from_s3(lakes, demo_db, tmp_path):
    """`costlab allocate --input s3://...` in a subprocess: credentials and endpoint from env."""
    local, s3 = lakes
    out = {}
    for name, root in (("local", str(local)), ("s3", s3)):
        db = tmp_path / f"{name}.duckdb"
        store.connect(db).close()
        run = subprocess.run(
            [
                sys.executable,
                "-c",
                "from costlab.cli import main; main()",
                "--db",
                str(db),
                "allocate",
                "--input",
                root,
                "--format",
                "json",
            ],
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert run.returncode == 0, run.stderr
        out[name] = json.loads(run.stdout)
    assert (
        out["s3"]["rows"]
        and out["s3"]["total_node_cost_usd"] == out["local"]["total_node_cost_usd"]
    )
    assert [(r["tenant"], r["cost_usd"]) for r in out["s3"]["rows"]] == [
        (r["tenant"], r["cost_usd"]) for r in out["local"]["rows"]
    ]


def test_publishing_to_s3_twice_gives_the_same_objects_and_rows(state, s3_bucket):  # noqa: F811
    root = f"s3://{s3_bucket}/twice"
    pub.publish(state, root, window=None)
    first = s3_objects(s3_bucket, "twice/", markers=True)
    pub.publish(state, root, window=None)
    second = s3_objects(s3_bucket, "twice/", markers=True)
    assert set(second) == set(first)
    parquet = [k for k in first if k.endswith(".parquet")]
    assert parquet and all(second[k][0] == first[k][0] for k in parquet)  # same bytes (ETag)
    assert_layout_equals_database(state, root)


def test_a_second_window_on_s3_replaces_only_the_partitions_it_touched(state, s3_bucket):  # noqa: F811
    root = f"s3://{s3_bucket}/windows"
    state.execute("CREATE TEMP TABLE later AS FROM gpu_samples WHERE ts >= $d", {"d": DAY2.start})
    state.execute("DELETE FROM gpu_samples WHERE ts >= $d", {"d": DAY2.start})
    pub.publish(state, root, window=DAY1)
    before = s3_objects(s3_bucket, "windows/")
    assert not [k for k in before if "date=2026-11-22" in k and k.startswith("gpu_samples/")]
    time.sleep(1.1)  # LastModified has a resolution of a second

    state.execute("INSERT INTO gpu_samples FROM later")
    report = pub.publish(state, root, window=DAY2)
    after = s3_objects(s3_bucket, "windows/")
    day1 = [k for k in before if "date=2026-11-21" in k]
    assert day1 and all(after[k] == before[k] for k in day1)  # ETag and LastModified unchanged
    day2 = [k for k in after if "date=2026-11-22" in k and k.startswith("gpu_samples/")]
    assert len(day2) == 3 and report.rows["gpu_samples"] == len(
        later := state.execute("FROM later").fetchall()
    )
    assert later
    assert_layout_equals_database(state, root)


def test_an_interrupted_publish_to_s3_is_repaired_by_the_next_one(state, s3_bucket, monkeypatch):  # noqa: F811
    root = f"s3://{s3_bucket}/crash"
    pub.publish(state, root, window=None)
    state.execute(
        "UPDATE gpu_samples SET util_pct = coalesce(util_pct, 0) + 1 WHERE ts >= $d",
        {"d": DAY2.start},
    )
    real = pub._delete_old

    def crash(fs, folder, generation):
        if "/gpu_samples/" in folder:
            raise RuntimeError("killed between write and delete")
        return real(fs, folder, generation)

    monkeypatch.setattr(pub, "_delete_old", crash)
    with pytest.raises(RuntimeError):
        pub.publish(state, root, window=DAY2)
    monkeypatch.setattr(pub, "_delete_old", real)
    assert layout.unfinished_publishes(root)
    assert [k for k in s3_objects(s3_bucket, "crash/") if k.endswith(pub.INFLIGHT)]
    reader = store.connect(":memory:")
    layout.attach_parquet(reader, root, tables=["gpu_samples"])
    total = state.execute("SELECT count(*) FROM gpu_samples").fetchone()[0]
    assert reader.execute("SELECT count(*) FROM gpu_samples").fetchone()[0] == total

    report = pub.publish(state, root, window=DAY1)  # its own window misses the crashed partitions
    assert report.repaired == 4  # day 2 of gpu_samples (3 clusters) and of llm_observations
    assert not [
        k for k in s3_objects(s3_bucket, "crash/") if k.endswith(pub.INFLIGHT) or "journal-" in k
    ]
    assert differences(state, root, "gpu_samples") == 0
