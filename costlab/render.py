"""Rendering engine results for the terminal: rich tables, CSV, the JSON contract."""

from __future__ import annotations

import csv
import io
import json
from decimal import Decimal

from rich.table import Table

from costlab.allocate.report import AllocationResult
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
        "a100_equiv_gpu_hours": None if row.a100_equiv_gpu_hours is None else round(row.a100_equiv_gpu_hours, 6),
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
        "rows": [_row_dict(r) for r in result.rows],
    }
    return json.dumps(doc, default=lambda v: float(v) if isinstance(v, Decimal) else str(v), indent=2)


def allocation_csv(result: AllocationResult) -> str:
    buf = io.StringIO()
    fields = [
        "tenant", "gpu_hours", "gpu_hours_requested", "a100_equiv_gpu_hours", "gpu_hours_used", "efficiency",
        "idle_share_usd", "cost_usd",
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
    table = Table(title=title, caption=f"total node cost {usd(result.total_node_cost_usd_micros)}")
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
        table.caption += f"; {result.unpriced_node_hours:,.1f} node-hours could not be priced (see unpriced_node_hours)"
    return table
