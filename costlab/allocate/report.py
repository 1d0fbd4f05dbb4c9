"""Allocation grouped by a tenant key, with idle kept separate or shared; read-only."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal

import duckdb

from costlab.allocate.keys import BY_COLUMNS, IDLE_POLICIES, SHARE_SCOPES
from costlab.errors import UsageError
from costlab.money import micros_to_usd
from costlab.store import compose_sql, load_sql
from costlab.timeutil import Window


@dataclass(frozen=True)
class TenantRow:
    tenant: str
    gpu_hours: float
    gpu_hours_used: float | None
    idle_gpu_hours: float
    own_cost_usd_micros: int
    idle_share_usd_micros: int
    cost_usd_micros: int
    gpu_hours_requested: float = 0.0
    a100_equiv_gpu_hours: float | None = None

    @property
    def cost_usd(self) -> Decimal:
        return micros_to_usd(self.cost_usd_micros)

    @property
    def efficiency(self) -> float | None:
        """Used over requested GPU-hours (None when usage was not measured)."""
        if self.gpu_hours_used is None or self.gpu_hours <= 0:
            return None
        return self.gpu_hours_used / self.gpu_hours


@dataclass(frozen=True)
class AllocationResult:
    window: Window
    by: str
    idle: str
    total_node_cost_usd_micros: int
    unpriced_node_hours: float
    rows: list[TenantRow] = field(default_factory=list)
    # namespaces (and their cost) whose team is the namespace: no team label, no team-map row
    team_fallback_namespaces: int = 0
    team_fallback_usd_micros: int = 0

    @property
    def total_node_cost_usd(self) -> Decimal:
        return micros_to_usd(self.total_node_cost_usd_micros)


# Idle is shared over the whole scope's rows, read before a reader's own rows (report_rows): the
# dashboard's tenant scope goes between the two, so only idle_share_rows sees other tenants.
IDLE_SHARE_CTES = [
    ("idle_share_rows", "allocate/report_keys"),
    ("alloc_idle_shares", "allocate/idle_shares"),
]
ROW_CTES = [("report_rows", "allocate/report_keys")]


def report_sql() -> str:
    """sql/allocate/report_by.sql with its inputs in front (DuckDB and Spark run the same text)."""
    return compose_sql("allocate/report_by", IDLE_SHARE_CTES + ROW_CTES)


def parse_by(by: str) -> tuple[str, str | None]:
    """'team' -> ('team', None); 'label:app' -> ('label', 'app'). Raises UsageError otherwise."""
    if by.startswith("label:"):
        key = by.removeprefix("label:").strip()
        if not key:
            raise UsageError("--by label:KEY needs a label name, e.g. label:project")
        return "label", key
    if by not in BY_COLUMNS:
        raise UsageError(f"--by must be one of {', '.join(BY_COLUMNS)} or label:KEY, not {by!r}")
    return by, None


def report_by(
    conn: duckdb.DuckDBPyConnection,
    window: Window,
    by: str = "team",
    idle: str = "separate",
    scope: str = "cluster",
    tenant: str | None = None,
    clusters: Sequence[str] = (),
    teams: Sequence[str] = (),
) -> list[TenantRow]:
    """Allocation grouped by `by` (see sql/allocate/report_by.sql); `tenant` restricts the result
    to one tenant's row, `clusters` / `teams` filter (empty = all)."""
    rows = conn.execute(
        report_sql(),
        report_params(window, by, idle, scope, tenant, clusters, teams),
    )
    names = [d[0] for d in rows.description]
    out = []
    for values in rows.fetchall():
        r = dict(zip(names, values, strict=True))
        out.append(
            TenantRow(
                tenant=r["tenant"],
                gpu_hours=float(r["gpu_hours"] or 0),
                gpu_hours_used=None if r["gpu_hours_used"] is None else float(r["gpu_hours_used"]),
                idle_gpu_hours=float(r["idle_gpu_hours"] or 0),
                own_cost_usd_micros=int(r["own_cost_usd_micros"]),
                idle_share_usd_micros=int(r["idle_share_usd_micros"]),
                cost_usd_micros=int(r["cost_usd_micros"]),
                gpu_hours_requested=float(r["gpu_hours_requested"] or 0),
                a100_equiv_gpu_hours=None
                if r["a100_equiv_gpu_hours"] is None
                else float(r["a100_equiv_gpu_hours"]),
            )
        )
    return out


def team_fallback(
    conn: duckdb.DuckDBPyConnection, window: Window, mapped: Sequence[str] = ()
) -> tuple[int, int]:
    """(namespaces, cost) whose team fell back to the namespace (sql/allocate/team_fallback.sql);
    `mapped` are the namespaces the team map names."""
    aligned = window.hour_aligned()
    namespaces, cost = conn.execute(
        load_sql("allocate/team_fallback"),
        {"start": aligned.start, "end": aligned.end, "mapped": list(mapped)},
    ).fetchall()[0]
    return int(namespaces), int(cost)


TEAM_FALLBACK_NOTICE = (
    "no team labels found for {n} namespace(s) ({usd}): their team is the namespace; set "
    "kube-state-metrics --metric-labels-allowlist=namespaces=[team],pods=[team] "
    "or [allocate] team_map"
)


def report_params(
    window: Window,
    by: str = "team",
    idle: str = "separate",
    scope: str = "cluster",
    tenant: str | None = None,
    clusters: Sequence[str] = (),
    teams: Sequence[str] = (),
) -> dict:
    """Validated, bound parameters of sql/allocate/report_by.sql."""
    kind, label_key = parse_by(by)
    if idle not in IDLE_POLICIES:
        raise UsageError(f"--idle must be one of {', '.join(IDLE_POLICIES)}")
    if scope not in SHARE_SCOPES:
        raise UsageError(f"idle share scope must be one of {', '.join(SHARE_SCOPES)}")
    aligned = window.hour_aligned()
    return {
        "start": aligned.start,
        "end": aligned.end,
        "by": kind,
        "label_key": label_key or "",
        "idle": idle,
        "scope": scope,
        "tenant": tenant,
        "clusters": list(clusters),
        "teams": list(teams),
    }
