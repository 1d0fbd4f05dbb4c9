"""A real headless Chromium loads every page of a running `costlab dashboard` and screenshots it
into artifacts/screenshots/; a Streamlit error box, a dialog or an empty chart fails the test."""

from __future__ import annotations

import pytest

from tests.dashboard.apptest_util import PAGES
from tests.dashboard.browser import Chromium
from tests.dashboard.conftest import SCREENSHOTS
from tests.dashboard.server import dashboard_server


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
def test_page_renders_in_chromium(fleet_url, browser, page):
    path = "" if page == "overview" else page  # the default page lives at /
    state = browser.load(f"{fleet_url}/{path}", SCREENSHOTS / f"{page}.png", timeout=90)
    _check(state, page)
    assert (SCREENSHOTS / f"{page}.png").stat().st_size > 10_000
    if page == "overview":
        assert state["metrics"] and state["metrics"][0].startswith("$")
