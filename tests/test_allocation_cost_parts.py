"""allocation stores the parts of a row's charge and derives the total (migration 008)."""

from __future__ import annotations

from datetime import UTC, datetime

import duckdb
import pytest

from costlab import store


def _database_at(version: int) -> duckdb.DuckDBPyConnection:
    """An in-memory database migrated up to `version` only, as an older costlab left it."""
    conn = duckdb.connect()
    conn.execute(store.load_sql("meta/schema_version"))
    for number, name, path in store.migrations():
        if number <= version:
            conn.execute(path.read_text())
            conn.execute(
                "INSERT INTO schema_version VALUES ($v, $n, now())", {"v": number, "n": name}
            )
    return conn


def _row(**money: int) -> dict:
    t = datetime(2026, 10, 1, tzinfo=UTC)
    return {
        "window_start_ts": t, "window_end_ts": t, "cluster": "prod", "nodepool": "gpu",
        "node": "n1", "instance_type": "p4d.24xlarge", "capacity_type": "on-demand",
        "gpu_model": "A100", "namespace": "ml", "pod": "p", "team": "research", "model": "",
        "gpu_hours": 1.0, "gpu_hours_used": None, "gpu_hours_requested": 1.0, **money,
    }  # fmt: skip


def test_migration_keeps_every_stored_total_and_splits_it_into_parts():
    conn = _database_at(7)
    old = _row(gpu_cost_usd_micros=32_770_000, other_cost_usd_micros=4_915_500)
    conn.execute(
        f"INSERT INTO allocation ({', '.join(old)}) VALUES ({', '.join('$' + k for k in old)})",
        old,
    )
    store.migrate(conn)
    got = conn.execute(
        "SELECT gpu_part_usd_micros, other_cost_usd_micros, gpu_cost_usd_micros FROM allocation"
    ).fetchall()
    assert got == [(27_854_500, 4_915_500, 32_770_000)]


def test_the_total_is_derived_and_cannot_be_written():
    conn = store.connect(":memory:")
    row = _row(gpu_part_usd_micros=27_854_500, other_cost_usd_micros=4_915_500)
    conn.execute(
        f"INSERT INTO allocation ({', '.join(row)}) VALUES ({', '.join('$' + k for k in row)})",
        row,
    )
    assert conn.execute("SELECT gpu_cost_usd_micros FROM allocation").fetchall() == [(32_770_000,)]
    with pytest.raises(duckdb.BinderException):
        conn.execute("INSERT INTO allocation BY NAME SELECT 1 AS gpu_cost_usd_micros")
