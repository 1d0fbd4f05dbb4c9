"""Rendering engine results for the terminal: rich tables, CSV, the JSON contract."""

from __future__ import annotations

import csv
import io
import json
from decimal import Decimal

from rich.markup import escape as escape_markup
from rich.table import Table

from costlab.allocate.report import TEAM_FALLBACK_NOTICE, AllocationResult
from costlab.money import micros_to_usd


def usd(micros: int) -> str:
    return f"${micros_to_usd(micros):,.2f}"


def allocation(result: AllocationResult, fmt: str) -> Table | str:
    if fmt == "json":
        return allocation_json(result)
    if fmt == "csv":
        return allocation_csv(result)
    return allocation_table(result)


def _row_dict(row) -> dict:
    return {
        "tenant": row.tenant,
        "gpu_hours": round(row.gpu_hours, 6),
        "gpu_hours_requested": round(row.gpu_hours_requested, 6),
        "a100_equiv_gpu_hours": None
        if row.a100_equiv_gpu_hours is None
        else round(row.a100_equiv_gpu_hours, 6),
        "gpu_hours_used": None if row.gpu_hours_used is None else round(row.gpu_hours_used, 6),
        "efficiency": None if row.efficiency is None else round(row.efficiency, 6),
        "idle_share_usd": micros_to_usd(row.idle_share_usd_micros),
        "cost_usd": micros_to_usd(row.cost_usd_micros),
    }


def allocation_json(result: AllocationResult) -> str:
    """The CLI contract: cost_usd values (6 decimals, exact) sum to total_node_cost_usd."""
    doc = {
        "start": result.window.start.isoformat(),
        "end": result.window.end.isoformat(),
        "by": result.by,
        "idle": result.idle,
        "total_node_cost_usd": result.total_node_cost_usd,
        "unpriced_node_hours": round(result.unpriced_node_hours, 6),
        "team_fallback_namespaces": result.team_fallback_namespaces,
        "rows": [_row_dict(r) for r in result.rows],
    }
    return json.dumps(
        doc, default=lambda v: float(v) if isinstance(v, Decimal) else str(v), indent=2
    )


def allocation_csv(result: AllocationResult) -> str:
    buf = io.StringIO()
    fields = [
        "tenant",
        "gpu_hours",
        "gpu_hours_requested",
        "a100_equiv_gpu_hours",
        "gpu_hours_used",
        "efficiency",
        "idle_share_usd",
        "cost_usd",
    ]
    writer = csv.DictWriter(buf, fieldnames=fields, lineterminator="\n")
    writer.writeheader()
    for row in result.rows:
        writer.writerow(_row_dict(row))
    return buf.getvalue().rstrip("\n")


def allocation_table(result: AllocationResult) -> Table:
    title = (
        f"GPU cost by {result.by}, {result.window.start:%Y-%m-%d %H:%M} to {result.window.end:%Y-%m-%d %H:%M} UTC"
        f" (idle: {result.idle})"
    )
    caption = f"total node cost {usd(result.total_node_cost_usd_micros)}"
    table = Table(title=title)
    table.add_column(result.by)
    table.add_column("GPU-hours", justify="right")
    table.add_column("efficiency", justify="right")
    table.add_column("idle share", justify="right")
    table.add_column("cost", justify="right")
    table.add_column("share", justify="right")
    total = result.total_node_cost_usd_micros or 1
    for row in result.rows:
        table.add_row(
            row.tenant,
            f"{row.gpu_hours:,.1f}",
            "-" if row.efficiency is None else f"{row.efficiency:.0%}",
            usd(row.idle_share_usd_micros),
            usd(row.cost_usd_micros),
            f"{row.cost_usd_micros / total:.1%}",
        )
    if result.unpriced_node_hours:
        caption += f"; {result.unpriced_node_hours:,.1f} node-hours could not be priced (see unpriced_node_hours)"
    if result.team_fallback_namespaces:
        caption += "\n" + escape_markup(
            TEAM_FALLBACK_NOTICE.format(
                n=result.team_fallback_namespaces, usd=usd(result.team_fallback_usd_micros)
            )
        )
    table.caption = caption
    return table


def tokens(report, fmt: str) -> Table | str:
    """`costlab tokens`: per-model rates, or the most expensive traces/sessions/users/tenants."""
    if report.by == "model":
        rows = [
            {
                "model": r.serving_key,
                "gpu_cost_usd": micros_to_usd(r.gpu_cost_usd_micros),
                "input_tokens": r.input_tokens,
                "output_tokens": r.output_tokens,
                "requests": r.requests,
                "usd_per_1m_input": r.usd_per_1m_input,
                "usd_per_1m_output": r.usd_per_1m_output,
                "usd_per_1m_tokens": r.usd_per_1m_tokens,
                "list_usd_per_1m_tokens": r.list_usd_per_1m_tokens,
            }
            for r in report.rates
        ]
    else:
        rows = [
            {
                report.by: k,
                "requests": n,
                "input_tokens": i,
                "output_tokens": o,
                "gpu_cost_usd": Decimal(str(round(c, 6))),
                "list_cost_usd": None if lc is None else Decimal(str(round(lc, 6))),
            }
            for k, n, i, o, c, lc in report.costs
        ]
    if fmt == "json":
        doc = {
            "start": report.window.start.isoformat(),
            "end": report.window.end.isoformat(),
            "by": report.by,
            "rows": rows,
        }
        return json.dumps(
            doc, default=lambda v: float(v) if isinstance(v, Decimal) else str(v), indent=2
        )
    table = Table(
        title=f"GPU cost of tokens by {report.by}, {report.window.start:%Y-%m-%d} to {report.window.end:%Y-%m-%d} UTC"
    )
    for col in rows[0] if rows else {report.by: None}:
        table.add_column(
            _HEADERS.get(col, col), justify="left" if col in ("model", report.by) else "right"
        )
    for row in rows:
        table.add_row(*(_cell(v, money=k.startswith(("usd", "list_usd"))) for k, v in row.items()))
    return table


_HEADERS = {
    "gpu_cost_usd": "GPU $",
    "input_tokens": "in tokens",
    "output_tokens": "out tokens",
    "requests": "requests",
    "usd_per_1m_input": "$/1M in",
    "usd_per_1m_output": "$/1M out",
    "usd_per_1m_tokens": "$/1M",
    "list_usd_per_1m_tokens": "list $/1M",
    "list_cost_usd": "list $",
}


def _cell(value, money: bool = False) -> str:
    if value is None:
        return "-"
    if isinstance(value, Decimal) or money:
        return f"${value:,.2f}"
    if isinstance(value, float):
        return f"{value:,.4f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)
