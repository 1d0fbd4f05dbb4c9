"""A real headless Chromium loads every page of a running `costlab dashboard` and screenshots it
into artifacts/screenshots/; a Streamlit error box, a dialog or an empty chart fails the test."""

from __future__ import annotations

import pytest

from costlab import store
from tests.dashboard.apptest_util import PAGES
from tests.dashboard.browser import Chromium
from tests.dashboard.conftest import SCREENSHOTS
from tests.dashboard.server import dashboard_server

# Every test drives a headless Chromium against a `costlab dashboard` server.
pytestmark = pytest.mark.service

TENANT = "devtools"


@pytest.fixture(scope="module")
def fleet_url(demo_db):
    with dashboard_server(demo_db, env={"COSTLAB_MONTHLY_BUDGET_USD": "50000"}) as url:
        yield url


@pytest.fixture(scope="module")
def browser():
    with Chromium() as c:
        yield c


def _check(state: dict, page: str) -> None:
    assert state["app"], f"{page}: Streamlit app did not render"
    assert not state["exceptions"], f"{page}: {state['exceptions']}"
    assert not state["errors"], f"{page}: {state['errors']}"
    assert not state["dialogs"], f"{page}: {state['dialogs']}"
    assert state["plots"] >= 1 and state["plots_with_data"] == state["plots"], (
        f"{page}: {state['plots_with_data']} of {state['plots']} charts have data"
    )


@pytest.mark.parametrize("page", list(PAGES))
def test_page_renders_in_chromium(fleet_url, browser, other_teams, page):
    path = "" if page == "overview" else page  # the default page lives at /
    state = browser.load(f"{fleet_url}/{path}", SCREENSHOTS / f"{page}.png", timeout=90)
    _check(state, page)
    assert (SCREENSHOTS / f"{page}.png").stat().st_size > 10_000
    if page == "overview":
        assert state["metrics"] and state["metrics"][0].startswith("$")
    if page == "tenants":  # the probe the tenant-scoped test relies on does see team names
        assert len(other_teams & set(state["plot_strings"])) >= 3


@pytest.fixture(scope="module")
def tenant_url(demo_db):
    with dashboard_server(demo_db, tenant=TENANT) as url:
        yield url


@pytest.fixture(scope="module")
def other_teams(demo_db) -> set[str]:
    conn = store.connect(demo_db, read_only=True)
    try:
        teams = {t for (t,) in conn.execute("SELECT DISTINCT team FROM allocation").fetchall()}
    finally:
        conn.close()
    return {t for t in teams if t and not t.startswith("__")} - {TENANT}


@pytest.mark.parametrize("page", ["overview", "tenants", "gpus", "tokens"])
def test_tenant_scoped_server_never_draws_another_team(tenant_url, other_teams, browser, page):
    """`costlab dashboard --tenant` end to end: nothing Chromium draws (chart data or page text)
    names another team."""
    path = "" if page == "overview" else page
    state = browser.load(f"{tenant_url}/{path}", SCREENSHOTS / f"tenant-{page}.png", timeout=90)
    _check(state, page)
    drawn = set(state["plot_strings"]) | set(state["text"].replace(",", " ").split())
    assert len(other_teams) >= 3 and not (drawn & other_teams), f"{page}: {drawn & other_teams}"
    if page == "tenants":
        assert TENANT in state["plot_strings"]
