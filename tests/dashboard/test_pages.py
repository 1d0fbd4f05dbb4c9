"""Every page runs on the demo and on an empty database; the numbers match `costlab allocate`."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import pytest

from costlab import store
from costlab.allocate.report import report_by
from costlab.allocate.tokens import token_cost_by, token_rates
from costlab.render import usd
from costlab.timeutil import Window
from dashboards.queries import Filters, Queries
from tests.dashboard.apptest_util import PAGES, metric, run_page
from tests.dashboard.conftest import REPO


def _window(db) -> Window:
    conn = store.connect(db, read_only=True)
    try:
        first, last = conn.execute(
            "SELECT min(window_start_ts), max(window_end_ts) FROM allocation"
        ).fetchone()
    finally:
        conn.close()
    # the dashboard's default window: whole UTC days, the last 7 (the demo has 2)
    start = datetime.combine(first.date(), datetime.min.time(), UTC)
    end = datetime.combine(
        (last - timedelta(microseconds=1)).date() + timedelta(days=1), datetime.min.time(), UTC
    )
    return Window(start, end)


def _report(db, **kw):
    conn = store.connect(db, read_only=True)
    try:
        return report_by(conn, _window(db), **kw)
    finally:
        conn.close()


@pytest.mark.parametrize("page", list(PAGES))
def test_page_runs_on_demo(monkeypatch, demo_db, page):
    at = run_page(monkeypatch, demo_db, page)
    assert not at.error, [e.value for e in at.error]


@pytest.mark.parametrize("page", list(PAGES))
def test_page_shows_no_data_yet_on_empty_database(monkeypatch, empty_db, page):
    at = run_page(monkeypatch, empty_db, page)
    assert not at.error, [e.value for e in at.error]
    assert any("No data yet" in i.value for i in at.info)


def test_overview_spend_matches_costlab_allocate_json(monkeypatch, demo_db):
    window = _window(demo_db)
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "costlab.cli",
            "--db",
            str(demo_db),
            "allocate",
            "--start",
            window.start.isoformat(),
            "--end",
            window.end.isoformat(),
            "--format",
            "json",
        ],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    rows = _report(demo_db)
    total_micros = sum(r.cost_usd_micros for r in rows)
    assert abs(sum(r["cost_usd"] for r in doc["rows"]) - total_micros / 1e6) < 1e-3
    at = run_page(monkeypatch, demo_db, "overview", env={"COSTLAB_MONTHLY_BUDGET_USD": "100000"})
    assert metric(at, "Spend") == usd(total_micros)
    assert metric(at, "Monthly budget") == "$100,000.00"


def test_overview_spend_for_one_team_matches_report_by(monkeypatch, demo_db):
    rows = _report(demo_db, tenant="research")
    at = run_page(monkeypatch, demo_db, "overview", widgets={"f_teams": ["research"]})
    assert metric(at, "Spend") == usd(sum(r.cost_usd_micros for r in rows))


@pytest.mark.parametrize("idle", ["separate", "share"])
def test_tenant_table_matches_report_by(monkeypatch, demo_db, idle):
    expected = {r.tenant: r for r in _report(demo_db, idle=idle)}
    at = run_page(monkeypatch, demo_db, "tenants", widgets={"t_idle": idle})
    table = at.dataframe[0].value
    shown = dict(zip(table["tenant"], table["cost_usd"], strict=True))
    assert set(shown) == set(expected)
    for tenant, cost in shown.items():
        assert cost == pytest.approx(expected[tenant].cost_usd_micros / 1e6, abs=1e-6)
    gpu_hours = dict(zip(table["tenant"], table["gpu_hours"], strict=True))
    for tenant, hours in gpu_hours.items():
        assert hours == pytest.approx(expected[tenant].gpu_hours, rel=1e-9)
    assert metric(at, "Chargeback total") == usd(sum(r.cost_usd_micros for r in expected.values()))


def test_tenant_drill_down_lists_namespaces_and_pods(monkeypatch, demo_db):
    at = run_page(monkeypatch, demo_db, "tenants", widgets={"t_team": "research"})
    namespaces = at.dataframe[1].value
    pods = at.dataframe[2].value
    assert len(namespaces) >= 1 and len(pods) >= 1
    assert at.selectbox(key="t_ns").value in set(namespaces["namespace"])


def test_whatif_yaml_follows_the_sliders(monkeypatch, demo_db):
    at = run_page(monkeypatch, demo_db, "whatif", widgets={"w_after": 45})
    at.button(key="w_yaml").click().run()
    assert not at.exception, [e.value for e in at.exception]
    yaml_text = "\n".join(c.value for c in at.code)
    assert "kind: NodePool" in yaml_text
    assert "consolidateAfter: 45m" in yaml_text


@pytest.mark.parametrize("match", ["model", "deployment"])
def test_token_rates_match_costlab_tokens(monkeypatch, demo_db, match):
    conn = store.connect(demo_db, read_only=True)
    try:
        expected = {r.serving_key: r for r in token_rates(conn, _window(demo_db), match=match)}
    finally:
        conn.close()
    at = run_page(monkeypatch, demo_db, "tokens", widgets={"k_match": match})
    assert not at.error, [e.value for e in at.error]
    table = at.dataframe[0].value
    assert set(table["serving_key"]) == set(expected) and expected
    for key, per_1m_in, per_1m_out in zip(
        table["serving_key"], table["usd_per_1m_input"], table["usd_per_1m_output"], strict=True
    ):
        want = expected[key]
        if want.usd_per_1m_input is None:
            assert per_1m_in != per_1m_in  # NaN: no tokens recorded
        else:
            assert per_1m_in == pytest.approx(want.usd_per_1m_input, rel=1e-12)
            assert per_1m_out == pytest.approx(want.usd_per_1m_output, rel=1e-12)


@pytest.mark.parametrize("grain", ["session", "user"])
def test_cost_per_unit_matches_costlab_tokens_by(demo_db, grain):
    window = _window(demo_db)
    conn = store.connect(demo_db, read_only=True)
    try:
        rows = token_cost_by(conn, window, grain, limit=10**9)
    finally:
        conn.close()
    costs = [r[4] * 1e6 for r in rows if r[0] is not None and r[4] and r[4] > 0]
    q = Queries(str(demo_db), None, cache=False)
    hist, summary = q.session_costs(Filters(window.start, window.end), grain)
    assert int(summary["units"].iloc[0]) == len(costs) == int(hist["units"].sum())
    assert hist["gpu_usd_micros"].sum() == pytest.approx(sum(costs), rel=1e-9)
    assert int(summary["max_usd_micros"].iloc[0]) == round(max(costs))
