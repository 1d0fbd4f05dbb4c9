"""The batch report on the shipped 2-day demo (2026-11-21 to 2026-11-23), with the real simulator:
a partial ISO week whose figures (cost, GPU-hours, efficiency per team) match report_by."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pyarrow.parquet as pq
import pytest
from html_table import parse

from costlab import store
from costlab.allocate.report import report_by
from costlab.money import micros_to_usd
from costlab.report.batch import build_report
from costlab.timeutil import Window

W47 = Window(datetime(2026, 11, 16, tzinfo=UTC), datetime(2026, 11, 23, tzinfo=UTC))


@pytest.fixture(scope="module")
def demo_report(demo_path, tmp_path_factory):
    files = build_report(demo_path, period="2026-W47", out=tmp_path_factory.mktemp("demo-report"))
    return files, parse(files.html.read_text(encoding="utf-8"))


def test_demo_report_matches_report_by(demo_path, demo_report):
    files, page = demo_report
    conn = store.connect(demo_path, read_only=True)
    try:
        rows = report_by(conn, W47, by="team", idle="separate")
        total = conn.execute(
            "SELECT sum(total_node_cost_usd_micros) FROM allocation_runs"
        ).fetchone()[0]
    finally:
        conn.close()
    assert page.kpis["total_usd"] == f"{micros_to_usd(total):.6f}"
    assert "partial period" in "".join(page.text) and "48 of 168 hours" in "".join(page.text)
    table = page.tables["by-team"]
    for r in rows:
        assert table[r.tenant]["cost_usd"][0] == f"{micros_to_usd(r.cost_usd_micros):.6f}"
        if r.efficiency is not None:
            assert float(table[r.tenant]["efficiency"][0]) == pytest.approx(r.efficiency, abs=1e-6)
    assert 0 < float(page.kpis["efficiency"]) <= 1
    assert page.tables["tokens"], "the demo serves LLMs: token economics must have rows"
    focus = pq.read_table(files.focus_parquet).to_pylist()
    assert sum(r["BilledCost"] for r in focus) == micros_to_usd(total)
    assert all(
        r["ListCost"] >= r["BilledCost"] - Decimal("0.01")
        for r in focus
        if r["x_CapacityType"] == "spot"
    )


def test_demo_report_has_simulator_savings(demo_report):
    _, page = demo_report
    # costlab.simulate is in the tree: its strategies replay the demo and the best saving is listed
    rows = page.tables.get("savings")
    assert rows, "expected simulator rows, the section says: " + "".join(page.text)[-400:]
    assert "all" in rows and set(rows) <= {"rightsize", "consolidation", "schedule", "spot", "all"}
    savings = [Decimal(r["savings_usd"][0]) for r in rows.values()]
    assert savings == sorted(savings, reverse=True)
