"""Tenant-scoped mode: tenant A never sees tenant B's rows, whatever the page or filter value."""

from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd
import pytest

from costlab.store import sql_dir
from dashboards.access import AccessDenied, resolve_tenant
from dashboards.queries import DIMENSIONS, Filters, Queries, QueryError, _query_text
from tests.dashboard.apptest_util import PAGES, run_page

A, B = "devtools", "research"
INJECTIONS = [
    "x' OR '1'='1",
    "research' --",
    "') OR TRUE; --",
    'research"; DROP TABLE allocation; --',
    "%",
    "*",
    "' UNION SELECT team FROM allocation --",
]
WIDE = Filters(datetime(2000, 1, 1, tzinfo=UTC), datetime(2100, 1, 1, tzinfo=UTC))


def _all_text(df: pd.DataFrame) -> set[str]:
    return {str(v) for col in df.columns for v in df[col].tolist()}


def test_every_dashboard_sql_binds_the_tenant_scope():
    files = sorted((sql_dir() / "dashboard").glob("*.sql"))
    assert files
    for f in files:
        assert f.read_text().startswith("--"), f"{f.name} needs a header comment"
        # the query as run (engine CTEs in front), without comments
        text = "\n".join(line.split("--")[0] for line in _query_text(f.stem).splitlines())
        assert "$tenant" in text, f"{f.name} ignores the tenant scope"
        assert "{" not in text.replace("{5}", ""), f"{f.name} looks like a template"


def test_caller_cannot_override_scope(demo_db):
    q = Queries(str(demo_db), A, cache=False)
    with pytest.raises(QueryError):
        q.run("overview_totals", WIDE, tenant=B)
    with pytest.raises(QueryError):
        q.breakdown(WIDE, "team; DROP TABLE allocation")


def _scoped_frames(q: Queries, filters: Filters) -> dict[str, pd.DataFrame]:
    out = {
        "options": q.options(),
        "totals": q.run("overview_totals", filters),
        "daily": q.run("overview_daily", filters),
        "movers": q.run("overview_movers", filters, limit=50),
        "tenants": q.tenants(filters, "separate"),
        "tenants_share": q.tenants(filters, "share"),
        "tokens": q.token_rates(filters),
        "tokens_dep": q.token_rates(filters, "deployment"),
        "ns_b": q.run("tenant_namespaces", filters, team=B),
        "pods_b": q.run("tenant_pods", filters, team=B, namespace="research", limit=100),
        "under": q.run("gpu_underutilized", filters, max_util_pct=101.0, limit=1000),
        "pattern": q.run("gpu_idle_pattern", filters),
        "heat": q.run("gpu_heatmap", filters, bucket_hours=1, max_nodes=1000),
    }
    for dim in DIMENSIONS:
        out[f"by_{dim}"] = q.breakdown(filters, dim)
    return out


@pytest.mark.parametrize("teams", [(), (B,), (A, B), *[(v,) for v in INJECTIONS]])
def test_scoped_queries_only_return_tenant_rows(demo_db, teams):
    q = Queries(str(demo_db), A, cache=False)
    scoped = Filters(
        WIDE.start,
        WIDE.end,
        clusters=tuple(INJECTIONS[:2]) if teams == (INJECTIONS[0],) else (),
        teams=teams,
    )
    frames = _scoped_frames(q, scoped)
    assert set(frames["options"]["team"]) <= {A}
    assert set(frames["tenants"]["tenant"]) <= {A}
    assert set(frames["movers"]["team"]) <= {A}
    assert frames["ns_b"].empty and frames["pods_b"].empty
    for name, df in frames.items():
        assert B not in _all_text(df), name
    # the scoped total equals the unscoped query for A alone, and differs from the fleet
    fleet = Queries(str(demo_db), None, cache=False)
    a_only = fleet.run("overview_totals", Filters(WIDE.start, WIDE.end, teams=(A,)))
    if teams in ((), (A, B)):
        assert frames["totals"]["cost_usd_micros"].iloc[0] == a_only["cost_usd_micros"].iloc[0] > 0
    else:
        assert frames["totals"]["cost_usd_micros"].iloc[0] == 0


def test_tokens_and_gpu_samples_are_scoped(demo_db):
    q = Queries(str(demo_db), A, cache=False)
    tokens = q.token_rates(WIDE)
    fleet_tokens = Queries(str(demo_db), None, cache=False).token_rates(WIDE)
    assert 0 < tokens["requests"].sum() < fleet_tokens["requests"].sum()
    heat = q.run("gpu_heatmap", WIDE, bucket_hours=24, max_nodes=1000)
    fleet_heat = Queries(str(demo_db), None, cache=False).run(
        "gpu_heatmap", WIDE, bucket_hours=24, max_nodes=1000
    )
    assert heat["node"].nunique() < fleet_heat["node"].nunique()


@pytest.mark.parametrize("page", list(PAGES))
def test_scoped_pages_never_show_other_tenants(monkeypatch, demo_db, page):
    at = run_page(monkeypatch, demo_db, page, tenant=A)
    assert (
        not at.multiselect(key="f_teams")
        if any(w.key == "f_teams" for w in at.multiselect)
        else True
    )
    shown = " ".join(str(df.value.to_dict()) for df in at.dataframe)
    shown += " ".join(m.value for m in at.markdown) + " ".join(
        s.value for s in at.selectbox if s.value
    )
    assert B not in shown
    if page == "tenants":
        assert list(at.dataframe[0].value["tenant"]) == [A]
        assert at.selectbox(key="t_team").options == [A]
    if page == "whatif":
        assert any("tenant-scoped" in i.value for i in at.info)


def test_proxy_header_is_only_trusted_when_enabled():
    headers = {"X-Costlab-Tenant": B, "X-Forwarded-User": "mallory"}
    assert resolve_tenant({}, headers) is None
    assert resolve_tenant({"COSTLAB_TRUST_PROXY_HEADER": "1"}, headers) == B
    assert (
        resolve_tenant({"COSTLAB_TRUST_PROXY_HEADER": "1"}, {"x-forwarded-user": "alice"})
        == "alice"
    )
    assert resolve_tenant({"COSTLAB_TENANT": A, "COSTLAB_TRUST_PROXY_HEADER": "1"}, headers) == A
    with pytest.raises(AccessDenied):
        resolve_tenant({"COSTLAB_TRUST_PROXY_HEADER": "1"}, {})
