"""Publishing the collectors' state into the Parquet layout, on a local folder.

The demo database (2 days, 3 clusters, 2026-11-21 and 2026-11-22) stands for a collector's state.
"""

from __future__ import annotations

import logging
import shutil
from datetime import UTC, datetime, timedelta

import pyarrow as pa
import pytest

from costlab import store
from costlab.collect import sink
from costlab.errors import StoreError
from costlab.scale import parquet_layout as layout
from costlab.scale import publish as pub
from costlab.timeutil import Window
from tests.scale.lake import assert_layout_equals_database, differences, local_files

DAY1 = Window(datetime(2026, 11, 21, tzinfo=UTC), datetime(2026, 11, 22, tzinfo=UTC))
DAY2 = Window(DAY1.end, DAY1.end + timedelta(days=1))


@pytest.fixture
def state(demo_db, tmp_path):
    """A writable copy of the demo database, open."""
    path = tmp_path / "state.duckdb"
    shutil.copyfile(demo_db, path)
    conn = store.connect(path)
    yield conn
    conn.close()


def raw_files(root) -> set[str]:
    return {
        f
        for f in local_files(root)
        if f.split("/")[0] in pub.RAW_TABLES and "/_" not in f and not f.startswith("_")
    }


def test_a_full_publish_is_the_export(state, tmp_path):
    """publish(window=None) writes the same files and rows as `costlab export parquet`."""
    published, exported = tmp_path / "published", tmp_path / "exported"
    report = pub.publish(state, published, window=None)
    layout.export_parquet(state, exported)
    assert (
        report.rows["gpu_samples"]
        == state.execute("SELECT count(*) FROM gpu_samples").fetchone()[0]
    )
    assert raw_files(published) == raw_files(exported)
    days = sorted(p.name for p in (published / "gpu_samples").glob("cluster=*/date=*"))
    assert days == ["date=2026-11-21"] * 3 + ["date=2026-11-22"] * 3
    assert_layout_equals_database(state, published)
    assert layout.unfinished_publishes(published) == []
    assert set(layout.tables_in(published)) == set(pub.RAW_TABLES)


def test_publishing_twice_changes_nothing(state, tmp_path):
    root = tmp_path / "lake"
    pub.publish(state, root, window=None)
    first = local_files(root)
    report = pub.publish(state, root, window=[DAY1, DAY2])
    assert set(local_files(root)) == set(first)
    assert report.deleted == 0 and report.replaced > 0
    assert_layout_equals_database(state, root)


def test_a_second_window_replaces_only_the_partitions_it_touched(state, tmp_path):
    """Collect day 1, publish; collect day 2, publish: day 1's files are not rewritten."""
    state.execute(
        "CREATE TEMP TABLE later_samples AS FROM gpu_samples WHERE ts >= $d", {"d": DAY2.start}
    )
    state.execute(
        "CREATE TEMP TABLE later_obs AS FROM llm_observations WHERE start_ts >= $d",
        {"d": DAY2.start},
    )
    state.execute("DELETE FROM gpu_samples WHERE ts >= $d", {"d": DAY2.start})
    state.execute("DELETE FROM llm_observations WHERE start_ts >= $d", {"d": DAY2.start})
    root = tmp_path / "lake"
    pub.publish(state, root, window=DAY1)
    assert not list(root.glob("gpu_samples/*/date=2026-11-22"))
    before = local_files(root)

    state.execute("INSERT INTO gpu_samples FROM later_samples")
    state.execute("INSERT INTO llm_observations FROM later_obs")
    pub.publish(state, root, window=DAY2)
    after = local_files(root)
    day1 = [f for f in before if "date=2026-11-21" in f]
    assert day1 and all(after[f] == before[f] for f in day1)  # same inode, same mtime
    assert [f for f in after if "date=2026-11-22" in f and f.startswith("gpu_samples/")]
    assert_layout_equals_database(state, root)


def test_rows_gone_from_the_state_leave_the_layout(state, tmp_path):
    root = tmp_path / "lake"
    pub.publish(state, root, window=None)
    cluster = state.execute("SELECT min(cluster) FROM gpu_samples").fetchone()[0]
    state.execute(
        "DELETE FROM gpu_samples WHERE cluster = $c AND ts >= $d", {"c": cluster, "d": DAY2.start}
    )
    state.execute("DELETE FROM pod_labels WHERE cluster = $c", {"c": cluster})
    report = pub.publish(state, root, window=DAY2)
    assert report.deleted == 2
    assert not (root / "gpu_samples" / f"cluster={cluster}" / "date=2026-11-22").exists()
    assert not (root / "pod_labels" / f"cluster={cluster}").exists()
    assert_layout_equals_database(state, root)


def test_an_interrupted_publish_is_visible_and_the_next_one_repairs_it(
    state, tmp_path, monkeypatch, caplog
):
    """Crash after a partition's new files are written and before its old ones are deleted."""
    root = tmp_path / "lake"
    pub.publish(state, root, window=None)
    state.execute("UPDATE gpu_samples SET util_pct = coalesce(util_pct, 0) + 1")
    real, swapped = pub._delete_old, []

    def crash_on_third_sample_partition(fs, folder, generation):
        if "/gpu_samples/" in folder:
            if len(swapped) == 2:
                raise RuntimeError("killed between write and delete")
            swapped.append(folder)
        return real(fs, folder, generation)

    monkeypatch.setattr(pub, "_delete_old", crash_on_third_sample_partition)
    with pytest.raises(RuntimeError):
        pub.publish(state, root, window=None)
    monkeypatch.setattr(pub, "_delete_old", real)

    assert len(layout.unfinished_publishes(root)) == 1
    assert list(root.glob("gpu_samples/*/*/_*.inflight"))  # written, hidden from every reader
    reader = store.connect(":memory:")
    with caplog.at_level(logging.WARNING):
        layout.attach_parquet(reader, root)
    assert "did not finish" in caplog.text
    total = state.execute("SELECT count(*) FROM gpu_samples").fetchone()[0]
    assert (
        reader.execute("SELECT count(*) FROM gpu_samples").fetchone()[0] == total
    )  # no duplicates
    assert differences(state, root, "gpu_samples") > 0  # old rows still in unswapped partitions

    # The rerun's own window touches nothing, yet the journal makes it rewrite what the crash left.
    report = pub.publish(
        state,
        root,
        window=Window(datetime(2020, 1, 1, tzinfo=UTC), datetime(2020, 1, 2, tzinfo=UTC)),
    )
    assert report.repaired > 0
    assert layout.unfinished_publishes(root) == []
    assert not list(root.rglob("*.inflight"))
    assert_layout_equals_database(state, root)


def sample_rows(cluster: str, *stamps: datetime) -> pa.Table:
    return pa.Table.from_pylist(
        [
            {
                "ts": ts,
                "cluster": cluster,
                "node": "n1",
                "gpu_index": 0,
                "gpu_uuid": "GPU-1",
                "mig_instance_id": -1,
                "util_pct": 50.0,
            }
            for ts in stamps
        ]
    )


def at(day: int, hour: int = 0) -> datetime:
    return datetime(2026, 3, day, hour, tzinfo=UTC)


def test_publish_changes_follows_runs_watermarks_and_failed_runs(tmp_path):
    """What `collect prometheus --parquet` publishes: whatever the runs since the last publish
    wrote, found from backfill windows, watermark moves, and runs that failed after loading."""
    conn = store.connect(tmp_path / "state.duckdb")
    root = tmp_path / "lake"
    reach = lambda: (timedelta(minutes=2), timedelta(days=1))  # noqa: E731 (lag, initial lookback)
    with sink.collection_run(conn, "prometheus", Window(at(1), at(2))):
        store.upsert(conn, "gpu_samples", sample_rows("a", at(1, 1), at(1, 2)))
        store.upsert(conn, "gpu_samples", sample_rows("b", at(1, 3)))
    first = pub.publish_changes(conn, root, "prometheus", reach=reach)
    assert first.windows == [None]  # no cursor yet: everything
    assert pub.read_cursor(root, "prometheus") is not None

    with sink.collection_run(conn, "prometheus", Window(at(3), at(4))):  # a backfill
        store.upsert(conn, "gpu_samples", sample_rows("a", at(3, 5)))
    before = local_files(root)
    pub.publish_changes(conn, root, "prometheus", reach=reach)
    after = local_files(root)
    assert (root / "gpu_samples/cluster=a/date=2026-03-03").is_dir()
    assert all(after[f] == before[f] for f in before if "date=2026-03-01" in f)

    with sink.collection_run(conn, "prometheus"):  # incremental: a first watermark
        sink.set_watermark(conn, "prometheus", "DCGM_FI_DEV_GPU_UTIL", at(5))
    pub.publish_changes(conn, root, "prometheus", reach=reach)
    with sink.collection_run(conn, "prometheus"):  # incremental: loads and moves it
        store.upsert(conn, "gpu_samples", sample_rows("b", at(5, 6)))
        sink.set_watermark(conn, "prometheus", "DCGM_FI_DEV_GPU_UTIL", at(5, 12))
    before = local_files(root)
    report = pub.publish_changes(conn, root, "prometheus", reach=reach)
    assert report.windows[-1].start == at(5) - timedelta(minutes=2) - pub.MARGIN
    assert (root / "gpu_samples/cluster=b/date=2026-03-05").is_dir()
    after = local_files(root)
    assert all(after[f] == before[f] for f in before if "/date=2026-03-0" in f)

    with pytest.raises(RuntimeError), sink.collection_run(conn, "prometheus", Window(at(7), at(8))):
        store.upsert(conn, "gpu_samples", sample_rows("a", at(7, 1)))
        raise RuntimeError("the collector died after loading")
    pub.publish_changes(conn, root, "prometheus", reach=reach)  # a later run's publish
    assert (root / "gpu_samples/cluster=a/date=2026-03-07").is_dir()
    assert_layout_equals_database(conn, root, ("gpu_samples", "collection_runs", "watermarks"))
    conn.close()


def test_langfuse_publishes_observations_by_day(tmp_path):
    conn = store.connect(tmp_path / "state.duckdb")
    root = tmp_path / "lake"
    with sink.collection_run(conn, "langfuse", Window(at(1), at(3))):
        store.upsert(
            conn,
            "llm_observations",
            pa.Table.from_pylist(
                [
                    {
                        "observation_id": f"o{i}",
                        "trace_id": "t",
                        "start_ts": at(1 + i, 10),
                        "model": "m",
                    }
                    for i in range(2)
                ]
            ),
        )
    pub.publish_changes(conn, root, "langfuse")
    assert sorted(p.name for p in (root / "llm_observations").iterdir()) == [
        "date=2026-03-01",
        "date=2026-03-02",
    ]
    assert not (root / "gpu_samples").exists()  # not the LangFuse collector's table
    assert_layout_equals_database(conn, root, ("llm_observations", "collection_runs"))
    conn.close()


def test_unknown_tables_and_sources_are_refused(tmp_path, fresh_db):
    with pytest.raises(StoreError):
        pub.publish(fresh_db, tmp_path, window=None, tables=["allocation"])
    with pytest.raises(StoreError):
        pub.publish_changes(fresh_db, tmp_path, "prices")


def test_unsafe_cluster_names_are_refused_before_writing(tmp_path):
    conn = store.connect(tmp_path / "state.duckdb")
    store.upsert(conn, "gpu_samples", sample_rows("../escape/x", at(1, 1)))
    with pytest.raises(StoreError, match="cannot be a folder name"):
        pub.publish(conn, tmp_path / "lake", window=None)
    assert not list((tmp_path / "lake").rglob("*.parquet"))
    conn.close()
