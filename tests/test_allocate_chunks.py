"""A long window is allocated in chunks of at most max_window_days: same rows as one window."""

from __future__ import annotations

import shutil
from datetime import timedelta

import pytest

from costlab import store
from costlab.allocate.gpu import allocate_range, allocate_window, data_bounds, window_chunks
from costlab.allocate.settings import AllocateSettings
from costlab.timeutil import Window

ROWS = "SELECT * FROM allocation ORDER BY ALL"


def test_window_chunks_cover_the_window_exactly():
    from datetime import UTC, datetime

    w = Window(datetime(2026, 1, 1, 0, 30, tzinfo=UTC), datetime(2026, 1, 9, 5, 10, tzinfo=UTC))
    chunks = window_chunks(w, 3)
    assert chunks[0].start == datetime(2026, 1, 1, tzinfo=UTC)
    assert chunks[-1].end == datetime(2026, 1, 9, 6, tzinfo=UTC)
    assert all(a.end == b.start for a, b in zip(chunks, chunks[1:], strict=False))
    assert [c.end - c.start for c in chunks[:-1]] == [timedelta(days=3)] * 2


@pytest.mark.parametrize("mode", ["request", "usage"])
def test_chunked_allocation_equals_one_window(demo_db, tmp_path, mode):
    path = tmp_path / "demo.duckdb"
    shutil.copy(demo_db, path)
    conn = store.connect(path)
    try:
        start, horizon = data_bounds(conn)
        window = Window(start, horizon)
        whole = allocate_window(conn, window, horizon, AllocateSettings(mode=mode))
        expected = conn.execute(ROWS).fetchall()
        cfg = AllocateSettings(mode=mode, max_window_days=1)
        assert len(window_chunks(window, 1)) >= 2
        chunked = allocate_range(conn, window, horizon, cfg)
        assert conn.execute(ROWS).fetchall() == expected
        assert chunked.total_node_cost_usd_micros == whole.total_node_cost_usd_micros
        assert chunked.allocated_usd_micros == chunked.total_node_cost_usd_micros
        assert chunked.rows == whole.rows
    finally:
        conn.close()
