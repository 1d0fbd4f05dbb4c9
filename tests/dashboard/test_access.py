"""Tenant-scoped mode: tenant A never sees tenant B's rows, whatever the page or filter value."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime

import pandas as pd
import pytest

from costlab import store
from costlab.store import sql_dir
from dashboards.access import AccessDenied, resolve_tenant
from dashboards.queries import DIMENSIONS, Filters, Queries, QueryError, _query_text
from dashboards.scope import SCOPED
from tests.dashboard.apptest_util import PAGES, run_page
from tests.dashboard.conftest import REPO

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


def test_every_dashboard_query_reads_through_the_scope():
    files = sorted((sql_dir() / "dashboard").glob("*.sql"))
    assert files
    for f in files:
        assert f.read_text().startswith("--"), f"{f.name} needs a header comment"
        text = _query_text(f.stem)  # refused (QueryError) if it reaches past the scope
        # the scope relations are in front, shadowing the tables they filter
        for table in SCOPED:
            assert f"{table} AS NOT MATERIALIZED (" in text, f"{f.name}: {table} not scoped"
        assert "{" not in text.replace("{5}", ""), f"{f.name} looks like a template"


@pytest.fixture
def extra_sql(monkeypatch):
    """Serve extra `sql/dashboard/<name>.sql` texts, as if a new dashboard query were added."""
    texts: dict[str, str] = {}
    real = store.load_sql

    def load(name: str) -> str:
        return texts[name] if name in texts else real(name)

    monkeypatch.setattr(store, "load_sql", load)

    def add(name: str, text: str) -> str:
        texts[f"dashboard/{name}"] = text
        return name

    return add


@pytest.mark.parametrize(
    "body",
    [
        # the old guard only looked for `$tenant` in the text: a comment satisfied it
        "-- $tenant\nSELECT DISTINCT team FROM main.allocation",
        "SELECT DISTINCT team FROM memory.main.allocation WHERE $tenant IS NULL OR TRUE",
        'SELECT DISTINCT team FROM "main"."allocation"',
        "SELECT table_name AS team FROM duckdb_tables()",
        "SELECT * FROM read_parquet('/tmp/allocation.parquet')",
        "SELECT node AS team FROM nodes",
        "SELECT 1 AS team; SELECT 2",
    ],
)
def test_query_reaching_past_the_scope_is_refused(demo_db, extra_sql, body):
    q = Queries(str(demo_db), A, cache=False)
    with pytest.raises(QueryError):
        q.run(extra_sql("escape", body))


def test_query_that_ignores_the_tenant_still_sees_only_its_rows(demo_db, extra_sql):
    # no `$tenant` but in a comment, and the raw table names: they name the scoped relations
    name = extra_sql(
        "naive",
        "-- $tenant (a comment)\n"
        "SELECT 'team' AS kind, team AS v FROM allocation\n"
        "UNION SELECT 'team', tenant FROM llm_observations\n"
        "UNION SELECT 'team', p.team FROM (WITH x AS (SELECT * FROM allocation) SELECT * FROM x) p\n"
        "UNION SELECT 'namespace', namespace FROM allocation\n"
        "UNION SELECT 'label_namespace', namespace FROM pod_labels\n"
        "UNION SELECT 'label_namespace', namespace FROM namespace_labels\n"
        "UNION SELECT 'sample_namespace', namespace FROM gpu_samples WHERE namespace IS NOT NULL",
    )

    def seen(tenant: str | None) -> dict[str, set[str]]:
        df = Queries(str(demo_db), tenant, cache=False).run(name)
        return {k: set(g["v"]) for k, g in df.groupby("kind")}

    scoped, fleet = seen(A), seen(None)
    assert scoped["team"] == {A}
    assert {A, B} <= fleet["team"]
    own = scoped["namespace"]
    assert own and own < fleet["namespace"]
    assert scoped["label_namespace"] <= own < fleet["label_namespace"]
    assert scoped["sample_namespace"] <= own < fleet["sample_namespace"]


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
    headers = {"X-Costlab-Tenant": B, "X-Forwarded-User": "alice"}
    trust = {"COSTLAB_TRUST_PROXY_HEADER": "1"}
    assert resolve_tenant({}, headers) is None
    # the authenticated user (set by the proxy) wins over a tenant header a client could add
    assert resolve_tenant(trust, headers) == "alice"
    assert resolve_tenant(trust, {"x-forwarded-user": "alice"}) == "alice"
    assert resolve_tenant(trust, {"X-Costlab-Tenant": B}) == B
    assert resolve_tenant(trust, {"X-Forwarded-User": "  ", "X-Costlab-Tenant": B}) == B
    assert resolve_tenant({"COSTLAB_TENANT": A, **trust}, headers) == A
    with pytest.raises(AccessDenied):
        resolve_tenant(trust, {})


@pytest.mark.parametrize("blank", ["", "   ", "\t"])
def test_blank_tenant_is_refused_not_the_whole_fleet(monkeypatch, demo_db, blank):
    with pytest.raises(AccessDenied):
        resolve_tenant({"COSTLAB_TENANT": blank}, {})
    with pytest.raises(AccessDenied):
        resolve_tenant({"COSTLAB_TENANT": blank, "COSTLAB_TRUST_PROXY_HEADER": "1"}, {})
    at = run_page(monkeypatch, demo_db, "overview", tenant=blank)
    assert any("Access denied" in e.value for e in at.error)
    assert not at.metric


@pytest.mark.parametrize("blank", ["", "  "])
def test_dashboard_command_refuses_a_blank_tenant(demo_db, blank):
    proc = subprocess.run(
        [sys.executable, "-m", "costlab.cli", "--db", str(demo_db), "dashboard", "--tenant", blank],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=120,
    )
    assert proc.returncode == 2, proc.stderr
    assert "--tenant must name a tenant" in proc.stderr
    assert "Traceback" not in proc.stderr


@pytest.mark.parametrize("idle", ["separate", "share"])
def test_tenant_chargeback_equals_its_fleet_row(demo_db, idle):
    # the idle share is still computed over the whole cluster, only the tenant's row comes back
    scoped = Queries(str(demo_db), A, cache=False).tenants(WIDE, idle)
    fleet = Queries(str(demo_db), None, cache=False).tenants(WIDE, idle)
    mine = fleet[fleet["tenant"] == A]
    assert list(scoped["tenant"]) == [A]
    for col in ("cost_usd_micros", "own_cost_usd_micros", "idle_share_usd_micros"):
        assert scoped[col].iloc[0] == mine[col].iloc[0], col
    if idle == "share":
        assert scoped["idle_share_usd_micros"].iloc[0] > 0
