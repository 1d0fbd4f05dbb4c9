"""The dashboard's only door to the database: named SQL files, bound parameters, tenant scope.

Every query is `sql/dashboard/<name>.sql` (or an engine query), run on a read-only connection
with bound parameters, behind the tenant scope of dashboards/scope.py: the relations it reads
are the session tenant's rows, whatever its text says. The scope (`Queries.tenant`) is bound as
`$tenant` and callers cannot override it. Filter values (clusters, teams, dimension names) are
bound too, never spliced. Results are cached with `st.cache_data`, keyed on the database file's
mtime and size, so a new collector run invalidates them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import streamlit as st

from costlab import store
from costlab.allocate import report, tokens
from costlab.allocate.settings import AllocateSettings
from costlab.config import settings_for
from costlab.errors import StoreError
from dashboards import scope

_PARAM = re.compile(r"\$([a-z_][a-z0-9_]*)")
DIMENSIONS = ("cluster", "nodepool", "capacity_type", "gpu_model")
IDLE_POLICIES = ("separate", "share")
GRAINS = ("session", "user", "trace")


class QueryError(Exception):
    """A dashboard query was built wrongly (missing scope, unknown parameter, bad value)."""


@dataclass(frozen=True)
class Filters:
    """Global filters: half-open UTC window plus optional cluster and team lists (empty = all)."""

    start: datetime
    end: datetime
    clusters: tuple[str, ...] = ()
    teams: tuple[str, ...] = ()

    def params(self) -> dict[str, Any]:
        return {
            "start": self.start,
            "end": self.end,
            "clusters": list(self.clusters),
            "teams": list(self.teams),
        }


def _db_stamp(path: str) -> tuple[int, int]:
    p = Path(path)
    if not p.is_file():
        raise StoreError(
            f"database {path} does not exist yet: run `costlab demo` or a collector first"
        )
    stat = p.stat()
    return stat.st_mtime_ns, stat.st_size


@st.cache_data(show_spinner=False, max_entries=512)
def _cached_query(
    path: str, stamp: tuple[int, int], name: str, params: tuple[tuple[str, Any], ...]
) -> pd.DataFrame:
    del stamp  # only part of the cache key
    return _execute(path, name, _thawed(dict(params)))


# Engine queries the dashboard may run as they are, so its figures are the CLI's figures.
ENGINE_QUERIES = frozenset({"allocate/report_by", "allocate/token_rates"})
# Queries that read engine queries' results, put in front of them (behind the scope) as CTEs.
ENGINE_CTES = {
    "allocate/report_by": report.ROW_CTES,
    "tokens_cost_distribution": [
        (tokens.RATES_CTE, "allocate/token_rates"),
        ("token_unit_costs", "allocate/token_cost_by"),
    ],
}
# Inputs computed over the whole fleet in front of the scope; they return scoped rows only.
FLEET_CTES = {"allocate/report_by": report.IDLE_SHARE_CTES}
MATCHES = ("model", "deployment")


def _sql_name(name: str) -> str:
    if "/" in name:
        if name not in ENGINE_QUERIES:
            raise QueryError(f"{name} is not a query the dashboard may run")
        return name
    return f"dashboard/{name}"


def _query_text(name: str) -> str:
    """The query as run: behind the tenant scope, refused if it reaches past it."""
    text = scope.compose(_sql_name(name), ENGINE_CTES.get(name, []), FLEET_CTES.get(name, []))
    try:
        scope.check(text)
    except scope.ScopeError as exc:
        raise QueryError(f"sql/{_sql_name(name)}.sql: {exc}") from exc
    return text


# A writer (allocate, a collector) holds the file for its whole run: a page waits this long for
# it, then shows "updating" (dashboards/common.py) instead of blocking the server's thread.
READ_LOCK_WAIT_S = 5.0


def _execute(path: str, name: str, params: dict[str, Any]) -> pd.DataFrame:
    # a connection per query, closed at once: the dashboard never keeps a writer out between
    # reruns, and each query sees the last committed state
    conn = store.connect(path, read_only=True, lock_timeout=READ_LOCK_WAIT_S)
    try:
        return conn.execute(_query_text(name), params).df()
    except duckdb.CatalogException:
        # a file that is not (yet) a costlab database: behave like an empty one
        return pd.DataFrame()
    finally:
        conn.close()


def _freeze(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value


def _thaw(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


@dataclass(frozen=True)
class Queries:
    """Named queries against one database, always inside one tenant scope (None = whole fleet)."""

    db_path: str
    tenant: str | None = None
    cache: bool = field(default=True, compare=False)

    def run(self, name: str, filters: Filters | None = None, **params: Any) -> pd.DataFrame:
        """Run sql/dashboard/<name>.sql with the scope, the filters and `params` bound."""
        if "tenant" in params:
            raise QueryError("the tenant scope is fixed by the session, not by a caller")
        sql = _query_text(name)
        used = set(_PARAM.findall(sql))
        bound: dict[str, Any] = {
            **(filters.params() if filters else {}),
            **params,
            "tenant": self.tenant,
        }
        missing = used - bound.keys()
        if missing:
            raise QueryError(
                f"sql/{_sql_name(name)}.sql needs parameter(s) {', '.join(sorted(missing))}"
            )
        bound = {k: v for k, v in bound.items() if k in used}
        if not self.cache:
            return _execute(self.db_path, name, bound)
        frozen = tuple(sorted((k, _freeze(v)) for k, v in bound.items()))
        df = _cached_query(self.db_path, _db_stamp(self.db_path), name, frozen)
        return df.copy()

    # --- named helpers with allow-listed choices -------------------------------------------

    def options(self) -> pd.DataFrame:
        return self.run("options")

    def breakdown(self, filters: Filters, dim: str) -> pd.DataFrame:
        if dim not in DIMENSIONS:
            raise QueryError(f"dimension must be one of {', '.join(DIMENSIONS)}")
        return self.run("overview_breakdown", filters, dim=dim)

    def tenants(self, filters: Filters, idle: str = "separate") -> pd.DataFrame:
        if idle not in IDLE_POLICIES:
            raise QueryError(f"idle policy must be one of {', '.join(IDLE_POLICIES)}")
        scope = settings_for(AllocateSettings, "allocate").idle_share_scope
        return self.run(
            "allocate/report_by", filters, by="team", label_key="", idle=idle, scope=scope
        )

    def token_rates(self, filters: Filters, match: str = "model") -> pd.DataFrame:
        """The engine's GPU $ per 1M tokens per model or deployment (`costlab tokens`)."""
        return self.run("allocate/token_rates", filters, **_rate_params(match))

    def session_costs(
        self, filters: Filters, grain: str, match: str = "model"
    ) -> tuple[pd.DataFrame, pd.DataFrame]:
        if grain not in GRAINS:
            raise QueryError(f"grain must be one of {', '.join(GRAINS)}")
        rows = self.run(
            "tokens_cost_distribution", filters, level=grain, limit=None, **_rate_params(match)
        )
        if rows.empty:
            return rows, rows
        hist = rows[["bin_lo_usd", "bin_hi_usd", "bin_units", "bin_gpu_usd_micros"]].rename(
            columns={"bin_units": "units", "bin_gpu_usd_micros": "gpu_usd_micros"}
        )
        return hist, rows[[c for c in rows.columns if not c.startswith("bin_")]].head(1)


def _rate_params(match: str) -> dict[str, Any]:
    if match not in MATCHES:
        raise QueryError(f"match must be one of {', '.join(MATCHES)}")
    return tokens.rate_params(settings_for(AllocateSettings, "allocate"), match)


def _thawed(params: dict[str, Any]) -> dict[str, Any]:
    return {k: _thaw(v) for k, v in params.items()}
