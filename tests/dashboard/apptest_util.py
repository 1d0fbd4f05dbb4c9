"""Running the dashboard in-process with streamlit.testing.v1.AppTest."""

from __future__ import annotations

from pathlib import Path

from streamlit.testing.v1 import AppTest

from tests.dashboard.conftest import APP

PAGES = {
    "overview": "views/overview.py",
    "tenants": "views/tenants.py",
    "gpus": "views/gpus.py",
    "tokens": "views/tokens.py",
    "whatif": "views/whatif.py",
}


def run_page(
    monkeypatch,
    db: Path,
    page: str,
    tenant: str | None = None,
    env: dict | None = None,
    widgets: dict | None = None,
) -> AppTest:
    """Run app.py on `page` with COSTLAB_DB=db (and COSTLAB_TENANT); then set `widgets` by key."""
    monkeypatch.setenv("COSTLAB_DB", str(db))
    if tenant is None:
        monkeypatch.delenv("COSTLAB_TENANT", raising=False)
    else:
        monkeypatch.setenv("COSTLAB_TENANT", tenant)
    for k, v in (env or {}).items():
        monkeypatch.setenv(k, v)
    at = AppTest.from_file(str(APP), default_timeout=180)
    at.run()
    if page != "overview":
        at.switch_page(PAGES[page]).run()
    for key, value in (widgets or {}).items():
        _widget(at, key).set_value(value)
    if widgets:
        at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _widget(at: AppTest, key: str):
    for kind in ("multiselect", "selectbox", "radio", "date_input", "slider", "toggle"):
        for w in getattr(at, kind):
            if w.key == key:
                return w
    raise KeyError(key)


def metric(at: AppTest, label: str) -> str:
    for m in at.metric:
        if m.label == label:
            return m.value
    raise KeyError(f"no metric {label!r}; have {[m.label for m in at.metric]}")
