"""The batch report on the hand-checked two-week fleet (see report_fixtures.py): the HTML renders,
its figures match the hand-worked dollars and `costlab.allocate.report.report_by` for the same
window, the allocation CSV sums to the total, and the CLI contract holds."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace

import polars as pl
import pytest
from html_table import parse
from report_fixtures import (
    W44_TOTAL_MICROS,
    W45,
    W45_TEAM_A_MICROS,
    W45_TEAM_B_MICROS,
    W45_TOTAL_MICROS,
)
from typer.testing import CliRunner

from costlab import cli, store
from costlab.allocate.report import report_by
from costlab.errors import UsageError
from costlab.money import micros_to_usd
from costlab.report.batch import build_report
from costlab.report.html import usd_text
from costlab.report.savings import from_results, unavailable


def exact(micros: int) -> str:
    return f"{micros_to_usd(micros):.6f}"


@pytest.fixture(scope="module")
def w45(two_weeks, tmp_path_factory):
    db, _ = two_weeks
    out = tmp_path_factory.mktemp("report-w45")
    files = build_report(db, period="2026-W45", out=out, savings_provider=unavailable)
    return db, files, parse(files.html.read_text(encoding="utf-8"))


def test_fixture_totals_are_the_hand_worked_ones(two_weeks):
    _, totals = two_weeks
    assert totals == {"W44": W44_TOTAL_MICROS, "W45": W45_TOTAL_MICROS}


def test_headline_figures(w45):
    _, files, page = w45
    assert [p.name for p in files.paths] == [
        "report-2026-W45.html",
        "allocation-2026-W45.csv",
        "focus-2026-W45.csv",
        "focus-2026-W45.parquet",
    ]
    assert page.kpis["total_usd"] == exact(W45_TOTAL_MICROS) == "4024.883856"
    assert page.kpis["previous_total_usd"] == exact(W44_TOTAL_MICROS)
    trend = Decimal(page.kpis["trend"])
    assert abs(trend - Decimal(336_000_000) / Decimal(W44_TOTAL_MICROS)) < Decimal("1e-6")
    assert page.attrs_by_id["period"]["data-period"] == "2026-W45"
    assert "168 of 168 hours" in "".join(page.text)
    assert page.kpis["efficiency"] == ""  # no DCGM samples in this fleet: efficiency is n/a, not 0


def test_tenant_table_matches_report_by(w45):
    db, _, page = w45
    conn = store.connect(db, read_only=True)
    try:
        expected = report_by(conn, W45, by="team", idle="separate")
    finally:
        conn.close()
    table = page.tables["by-team"]
    assert set(table) == {r.tenant for r in expected} | {"__total__"}
    for r in expected:
        value, text = table[r.tenant]["cost_usd"]
        assert value == exact(r.cost_usd_micros)
        assert text == usd_text(r.cost_usd_micros)
        assert abs(float(table[r.tenant]["gpu_hours"][0]) - r.gpu_hours) < 1e-6
    assert table["team-a"]["cost_usd"][0] == exact(W45_TEAM_A_MICROS)
    assert table["team-b"]["cost_usd"][0] == exact(W45_TEAM_B_MICROS)
    assert table["__total__"]["cost_usd"][0] == exact(W45_TOTAL_MICROS)
    # ns x has no team label: its team is the namespace (docs/allocation.md)
    assert "x" in table and "__idle__" in table and "__unallocated__" not in table


@pytest.mark.parametrize("dim", ["cluster", "nodepool"])
def test_cluster_and_nodepool_tables_match_report_by_with_idle_shared(w45, dim):
    # report_by --idle share spreads a scope's idle over its tenants, so per cluster (nodepool)
    # the shared cost equals everything spent there: the report's cost column (idle included).
    db, _, page = w45
    conn = store.connect(db, read_only=True)
    try:
        shared = report_by(
            conn, W45, by=dim, idle="share", scope="nodepool" if dim == "nodepool" else "cluster"
        )
    finally:
        conn.close()
    table = page.tables[f"by-{dim}"]
    got = {
        k.split("/")[-1]: Decimal(v["cost_usd"][0]) for k, v in table.items() if k != "__total__"
    }
    assert got == {r.tenant: micros_to_usd(r.cost_usd_micros) for r in shared}
    assert sum(got.values()) == micros_to_usd(W45_TOTAL_MICROS)


def test_gpu_model_idle_and_tokens(w45):
    _, _, page = w45
    models = page.tables["by-gpu_model"]
    assert models["A10G"]["cost_usd"][0] == "336.000000"
    assert models["A10G"]["idle_usd"][0] == "168.000000"  # 2 of n2's 4 GPUs were never requested
    assert Decimal(models["A100"]["cost_usd"][0]) == micros_to_usd(W45_TOTAL_MICROS - 336_000_000)
    idle_kpi = Decimal(page.kpis["idle_usd"])
    assert idle_kpi == sum(Decimal(r["idle_usd"][0]) for k, r in models.items() if k != "__total__")
    assert Decimal(page.tables["idle-nodes"]["c2/n2"]["idle_usd"][0]) == Decimal("168")
    llama = page.tables["tokens"]["llama"]
    assert llama["gpu_cost_usd"][0] == "168.000000"
    assert llama["requests"][0] == "3"
    assert float(llama["usd_per_1m_tokens"][0]) == pytest.approx(84.0)


def test_html_is_self_contained_and_printable(w45):
    _, files, page = w45
    html = files.html.read_text(encoding="utf-8")
    assert html.startswith("<!DOCTYPE html>")
    assert not [s for s in page.scripts if s.get("src")], "scripts must be inline, not fetched"
    assert "plotly.js v" in html or "Plotly" in html  # the library is embedded
    assert len(html) > 1_000_000
    css = "".join(page.styles)
    assert "@media print" in css and "@page" in css
    for section in (
        "summary",
        "trend",
        "tenants",
        "clusters",
        "nodepools",
        "gpu-models",
        "idle",
        "efficiency",
        "tokens",
        "savings",
    ):
        assert section in page.ids
    assert "chart-daily" in page.ids and "chart-by-team" in page.ids
    assert "savings-unavailable" in page.ids
    assert "not available" in "".join(page.text)


def test_allocation_csv_sums_to_the_total(w45):
    _, files, _ = w45
    frame = pl.read_csv(files.allocation_csv, schema_overrides={"gpu_cost_usd": pl.Utf8})
    assert frame["gpu_cost_usd_micros"].sum() == W45_TOTAL_MICROS
    assert sum(Decimal(v) for v in frame["gpu_cost_usd"]) == micros_to_usd(W45_TOTAL_MICROS)
    assert frame["window_start_ts"].min() == "2026-11-02T00:00:00Z"
    assert frame["window_start_ts"].max() == "2026-11-08T23:00:00Z"


def test_savings_section_lists_simulator_results(two_weeks, tmp_path):
    db, _ = two_weeks

    def fake(result_db: Path):
        assert result_db == Path(db)
        results = [
            SimpleNamespace(
                strategy="spot",
                undefined=None,
                baseline_cost_usd_micros=1_000_000_000,
                simulated_cost_usd_micros=700_000_000,
                savings_usd_micros=300_000_000,
                savings_ratio=0.3,
                savings_per_month_usd_micros=1_303_571_429,
                window_hours=168.0,
                risk={"expected_interruptions": 0.5},
            ),
            SimpleNamespace(
                strategy="schedule",
                undefined="no schedulable workloads",
                baseline_cost_usd_micros=0,
                simulated_cost_usd_micros=0,
                savings_usd_micros=0,
                savings_ratio=0.0,
                savings_per_month_usd_micros=0,
                window_hours=168.0,
                risk={},
            ),
            SimpleNamespace(
                strategy="rightsize",
                undefined=None,
                baseline_cost_usd_micros=1_000_000_000,
                simulated_cost_usd_micros=900_000_000,
                savings_usd_micros=100_000_000,
                savings_ratio=0.1,
                savings_per_month_usd_micros=434_523_810,
                window_hours=168.0,
                risk={},
            ),
        ]
        return from_results(results)

    files = build_report(db, period="2026-W45", out=tmp_path, savings_provider=fake)
    page = parse(files.html.read_text(encoding="utf-8"))
    rows = page.tables["savings"]
    assert list(rows) == ["spot", "rightsize"]  # best first; undefined strategies left out
    assert rows["spot"]["savings_usd"][0] == "300.000000"
    assert rows["spot"]["savings_per_month_usd"][1] == "$1,303.57"
    assert "savings-unavailable" not in page.ids


def test_report_for_a_period_without_data_is_a_usage_error(two_weeks, tmp_path):
    db, _ = two_weeks
    with pytest.raises(UsageError, match="no allocation rows in 2026-W30"):
        build_report(db, period="2026-W30", out=tmp_path, savings_provider=unavailable)
    with pytest.raises(UsageError, match="--period must look like"):
        build_report(db, period="November", out=tmp_path, savings_provider=unavailable)


def test_cli_contract_default_period_and_files(two_weeks, tmp_path):
    db, _ = two_weeks
    out = tmp_path / "out"
    result = CliRunner().invoke(cli.app, ["--db", str(db), "report", "--out", str(out)])
    assert result.exit_code == 0, result.output + repr(result.exception)
    # no complete month in Oct 26 - Nov 9, so the default is the last complete ISO week
    assert "costlab report 2026-W45" in result.output
    assert "$4,024.88" in result.output
    assert sorted(p.name for p in out.iterdir()) == [
        "allocation-2026-W45.csv",
        "focus-2026-W45.csv",
        "focus-2026-W45.parquet",
        "report-2026-W45.html",
    ]
    page = parse((out / "report-2026-W45.html").read_text(encoding="utf-8"))
    assert (
        "savings" in page.ids
    )  # real simulator ran or said why not; either way the section exists
    assert ("savings" in page.tables) != ("savings-unavailable" in page.ids)


def test_a_report_that_fails_while_writing_leaves_nothing_half_written(
    two_weeks, tmp_path, monkeypatch
):
    from costlab.report import batch

    db, _ = two_weeks
    out = tmp_path / "reports"

    def broken(*_a, **_k):
        raise OSError("disk full")

    monkeypatch.setattr(batch.report_html, "render", broken)
    with pytest.raises(OSError, match="disk full"):
        build_report(db, period="2026-W45", out=out, savings_provider=unavailable)
    assert list(tmp_path.iterdir()) == []  # neither `out` nor a staging folder
    # into a folder holding another period's report: that one stays, nothing new appears
    out.mkdir()
    (out / "report-2026-W44.html").write_text("earlier")
    with pytest.raises(OSError, match="disk full"):
        build_report(db, period="2026-W45", out=out, savings_provider=unavailable)
    assert [p.name for p in tmp_path.iterdir()] == ["reports"]
    assert [p.name for p in out.iterdir()] == ["report-2026-W44.html"]
    monkeypatch.undo()
    files = build_report(db, period="2026-W45", out=out, savings_provider=unavailable)
    assert sorted(p.name for p in out.iterdir()) == sorted(
        ["report-2026-W44.html", *(p.name for p in files.paths)]
    )
    assert [p.name for p in tmp_path.iterdir()] == ["reports"]
