"""Shared page plumbing: the session's scope and filters, the sidebar, empty states, charts."""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import pandas as pd
import streamlit as st

from costlab import store
from costlab.errors import StoreError
from costlab.money import usd_to_micros
from dashboards.access import AccessDenied, resolve_tenant
from dashboards.queries import Filters, Queries

BUDGET_ENV = "COSTLAB_MONTHLY_BUDGET_USD"
DB_ENV = "COSTLAB_DB"
DEFAULT_DAYS = 7
_KEY = "_costlab_ctx"


@dataclass(frozen=True)
class Context:
    """What every page needs: the scoped query layer, the filters, whether there is data."""

    queries: Queries
    filters: Filters | None  # None when the database holds no allocation yet
    tenant: str | None
    budget_usd_micros: int | None

    @property
    def has_data(self) -> bool:
        return self.filters is not None


def _budget() -> int | None:
    text = os.environ.get(BUDGET_ENV, "").strip()
    if not text:
        return None
    try:
        return usd_to_micros(text)
    except ArithmeticError:
        st.sidebar.warning(f"{BUDGET_ENV}={text!r} is not a number; no budget shown")
        return None


def _headers() -> dict[str, str]:
    try:
        return dict(st.context.headers)
    except (AttributeError, RuntimeError):
        return {}


def setup() -> Context:
    """Resolve the scope, draw the global filters in the sidebar, store the page context."""
    db = os.environ.get(DB_ENV, "").strip()
    if not db:
        st.error("No database configured: start the dashboard with `costlab --db FILE dashboard`.")
        st.stop()
    try:
        tenant = resolve_tenant(os.environ, _headers())
    except AccessDenied as exc:
        st.error(f"Access denied: {exc}.")
        st.stop()
    queries = Queries(db, tenant)
    st.sidebar.title("costlab")
    if tenant is not None:
        st.sidebar.info(f"Tenant-scoped view: **{tenant}**")
    try:
        options = queries.options()
    except store.DatabaseLocked:
        updating_notice(db)
        st.stop()
    except StoreError as exc:
        st.error(f"Cannot read the database: {exc}")
        st.stop()
    filters = _sidebar_filters(options, tenant) if not options.empty else None
    ctx = Context(queries=queries, filters=filters, tenant=tenant, budget_usd_micros=_budget())
    st.session_state[_KEY] = ctx
    return ctx


UPDATING = (
    "The database is updating (costlab allocate or a collector is writing it); retrying… "
    "This page reloads when the update is done."
)
RETRY_EVERY_S = 3.0


def updating_notice(db: str) -> None:
    """Shown instead of a lock error while a writer holds the database; reruns the page once it
    is free."""
    st.info(UPDATING, icon=":material/sync:")
    _rerun_when_free(db)


@st.fragment(run_every=RETRY_EVERY_S)
def _rerun_when_free(db: str) -> None:
    try:
        store.connect(db, read_only=True, lock_timeout=0).close()
    except store.DatabaseLocked:
        return
    except StoreError:
        pass  # another problem: the full rerun reports it
    st.rerun(scope="app")


def _sidebar_filters(options: pd.DataFrame, tenant: str | None) -> Filters:
    first = pd.Timestamp(options["first_ts"].min()).tz_convert(UTC).date()
    last_end = pd.Timestamp(options["last_end_ts"].max()).tz_convert(UTC)
    last = (last_end - pd.Timedelta(microseconds=1)).date()
    default_start = max(first, last - timedelta(days=DEFAULT_DAYS - 1))
    picked = st.sidebar.date_input(
        "Date range (UTC)",
        value=(default_start, last),
        min_value=first,
        max_value=last,
        key="f_dates",
    )
    start_day, end_day = _range(picked, default_start, last)
    clusters = st.sidebar.multiselect(
        "Cluster", sorted(options["cluster"].unique()), key="f_clusters", placeholder="All clusters"
    )
    teams: list[str] = []
    if tenant is None:
        teams = st.sidebar.multiselect(
            "Tenant (team)",
            sorted(options["team"].unique()),
            key="f_teams",
            placeholder="All tenants",
        )
    st.sidebar.caption("Money in USD (2 decimals), GPU time in GPU-hours, days in UTC.")
    return Filters(
        start=datetime.combine(start_day, time.min, UTC),
        end=datetime.combine(end_day + timedelta(days=1), time.min, UTC),
        clusters=tuple(clusters),
        teams=tuple(teams),
    )


def _range(picked: Any, default_start: date, last: date) -> tuple[date, date]:
    if isinstance(picked, (tuple, list)):
        if len(picked) == 2:
            return picked[0], picked[1]
        if len(picked) == 1:
            return picked[0], picked[0]
        return default_start, last
    if isinstance(picked, date):
        return picked, picked
    return default_start, last


def context() -> Context:
    ctx = st.session_state.get(_KEY)
    if ctx is None:
        ctx = setup()
    return ctx


def require_data(ctx: Context) -> Filters:
    """The filters, or a friendly empty state (and stop) when there is no data yet."""
    if ctx.filters is None:
        st.info(
            "No data yet. Load some with `costlab demo` (synthetic fleet) or run the collectors, "
            "then `costlab allocate`; this page fills in on the next refresh.",
            icon=":material/hourglass_empty:",
        )
        st.stop()
    return ctx.filters


def window_caption(filters: Filters) -> None:
    end = filters.end - timedelta(microseconds=1)
    parts = [f"{filters.start:%Y-%m-%d} to {end:%Y-%m-%d} UTC"]
    if filters.clusters:
        parts.append("clusters: " + ", ".join(filters.clusters))
    if filters.teams:
        parts.append("tenants: " + ", ".join(filters.teams))
    st.caption(" · ".join(parts))


def chart(fig: Any, key: str) -> None:
    """Render a plotly figure with the house layout."""
    fig.update_layout(margin={"l": 10, "r": 10, "t": 40, "b": 10}, legend_title_text="")
    st.plotly_chart(fig, key=key, width="stretch", config={"displaylogo": False})


def empty_note(what: str) -> None:
    st.caption(f"No {what} for these filters.")
