"""The batch report as one self-contained HTML file: tables, plotly charts (plotly.js inlined, so
it reads offline), printable CSS.

Every money cell carries its exact value in `data-value` (USD with 6 decimals, from integer
micro-dollars) next to the rounded text, so tests and scripts can read the figures back.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from decimal import ROUND_HALF_EVEN, Decimal
from html import escape

import plotly.graph_objects as go

from costlab.allocate.keys import IDLE
from costlab.money import micros_to_usd
from costlab.report.data import DimRow, ReportData

CENT = Decimal("0.01")
IDLE_COLOR = "#c0c0c0"
COST_COLOR = "#1f77b4"

CSS = """
:root { --fg: #1b1f24; --muted: #5b6470; --line: #d8dde3; --accent: #1f77b4; --warn: #b35900; }
* { box-sizing: border-box; }
body { font-family: -apple-system, "Segoe UI", "DejaVu Sans", Arial, sans-serif; color: var(--fg);
       margin: 0 auto; max-width: 1100px; padding: 24px; line-height: 1.4; }
h1 { font-size: 1.6rem; margin: 0 0 4px; } h2 { font-size: 1.2rem; margin: 28px 0 8px;
     border-bottom: 2px solid var(--line); padding-bottom: 4px; }
.sub { color: var(--muted); margin: 0 0 16px; }
.warn { color: var(--warn); font-weight: 600; }
.kpis { display: grid; grid-template-columns: repeat(auto-fill, minmax(190px, 1fr)); gap: 10px; }
.kpi { border: 1px solid var(--line); border-radius: 6px; padding: 10px 12px; }
.kpi .label { color: var(--muted); font-size: .8rem; text-transform: uppercase; letter-spacing: .03em; }
.kpi .value { font-size: 1.35rem; font-weight: 600; }
.kpi .note { color: var(--muted); font-size: .8rem; }
table { border-collapse: collapse; width: 100%; margin: 6px 0 12px; font-size: .88rem; }
th, td { border-bottom: 1px solid var(--line); padding: 4px 8px; text-align: left; }
th { background: #f3f5f7; } td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
tr.idle td { color: var(--muted); font-style: italic; }
tfoot td { font-weight: 600; border-top: 2px solid var(--fg); }
.chart { page-break-inside: avoid; break-inside: avoid; }
.note { color: var(--muted); font-size: .85rem; }
footer { margin-top: 32px; color: var(--muted); font-size: .8rem; }
@page { size: A4; margin: 14mm; }
@media print {
  body { max-width: none; padding: 0; font-size: 10pt; }
  h2 { page-break-after: avoid; break-after: avoid; }
  section, table, .kpis { page-break-inside: avoid; break-inside: avoid; }
  .modebar, .no-print { display: none !important; }
  a { color: inherit; text-decoration: none; }
}
"""


def usd_exact(micros: int) -> str:
    """Exact dollars with 6 decimals, e.g. '1234.567890'."""
    return f"{micros_to_usd(micros):.6f}"


def usd_text(micros: int) -> str:
    """Dollars rounded half-even to the cent for display, e.g. '$1,234.57'."""
    value = micros_to_usd(micros).quantize(CENT, rounding=ROUND_HALF_EVEN)
    return f"-${-value:,.2f}" if value < 0 else f"${value:,.2f}"


def pct_text(ratio: float | None, signed: bool = False) -> str:
    if ratio is None:
        return "n/a"
    return f"{ratio:+.1%}" if signed else f"{ratio:.1%}"


def hours_text(hours: float | None) -> str:
    return "n/a" if hours is None else f"{hours:,.1f}"


def _cell(col: str, text: str, value: object | None = None, num: bool = True) -> str:
    attr = f' data-col="{escape(col)}"'
    if value is not None:
        attr += f' data-value="{escape(str(value))}"'
    cls = ' class="num"' if num else ""
    return f"<td{cls}{attr}>{escape(text)}</td>"


def _money_cell(col: str, micros: int) -> str:
    return _cell(col, usd_text(micros), usd_exact(micros))


def _ratio_cell(col: str, ratio: float | None) -> str:
    return _cell(col, pct_text(ratio), "" if ratio is None else f"{ratio:.6f}")


def _hours_cell(col: str, hours: float | None) -> str:
    return _cell(col, hours_text(hours), "" if hours is None else f"{hours:.6f}")


def _table(
    table_id: str, headers: Sequence[tuple[str, bool]], rows: Iterable[str], foot: str = ""
) -> str:
    num_cls = ' class="num"'
    head = "".join(f"<th{num_cls if num else ''}>{escape(h)}</th>" for h, num in headers)
    body = "\n".join(rows)
    tfoot = f"<tfoot>{foot}</tfoot>" if foot else ""
    return f'<table id="{escape(table_id)}"><thead><tr>{head}</tr></thead><tbody>\n{body}\n</tbody>{tfoot}</table>'


class _Charts:
    """plotly figures as HTML fragments; the first one carries plotly.js inline (offline)."""

    def __init__(self) -> None:
        self.first = True

    def render(self, fig: go.Figure, chart_id: str) -> str:
        fig.update_layout(
            template="plotly_white",
            margin={"l": 60, "r": 20, "t": 40, "b": 60},
            height=360,
            font={"size": 11},
        )
        html = fig.to_html(
            full_html=False,
            include_plotlyjs=self.first,
            div_id=chart_id,
            config={"displaylogo": False, "responsive": True},
        )
        self.first = False
        return f'<div class="chart" id="chart-{escape(chart_id)}">{html}</div>'


def _usd_float(micros: int) -> float:
    return float(micros_to_usd(micros))  # charts only; tables carry the exact value


def _dim_table(dim: str, rows: list[DimRow], total_micros: int, label: str) -> str:
    headers = [
        (label, False),
        ("GPU-hours", True),
        ("requested GPU-h", True),
        ("used GPU-h", True),
        ("efficiency", True),
        ("idle $", True),
        ("cost $", True),
        ("share", True),
    ]
    body = []
    for r in rows:
        share = None if total_micros <= 0 else r.cost_usd_micros / total_micros
        cls = ' class="idle"' if r.key == IDLE else ""
        body.append(
            f'<tr{cls} data-key="{escape(r.key)}">'
            + _cell("key", r.key, r.key, num=False)
            + _hours_cell("gpu_hours", r.gpu_hours)
            + _hours_cell("requested_gpu_hours", r.requested_gpu_hours)
            + _hours_cell("used_gpu_hours", r.used_gpu_hours)
            + _ratio_cell("efficiency", r.efficiency)
            + _money_cell("idle_usd", r.idle_usd_micros)
            + _money_cell("cost_usd", r.cost_usd_micros)
            + _ratio_cell("share", share)
            + "</tr>"
        )
    foot = (
        '<tr data-key="__total__"><td>total</td>'
        + _hours_cell("gpu_hours", sum(r.gpu_hours for r in rows))
        + "<td></td><td></td><td></td>"
        + _money_cell("idle_usd", sum(r.idle_usd_micros for r in rows))
        + _money_cell("cost_usd", sum(r.cost_usd_micros for r in rows))
        + "<td></td></tr>"
    )
    return _table(f"by-{dim}", headers, body, foot)


def _dim_chart(charts: _Charts, dim: str, rows: list[DimRow], title: str) -> str:
    keys = [r.key for r in rows]
    fig = go.Figure()
    fig.add_bar(
        name="allocated",
        x=keys,
        y=[_usd_float(r.cost_usd_micros - r.idle_usd_micros) for r in rows],
        marker_color=COST_COLOR,
    )
    fig.add_bar(
        name="idle",
        x=keys,
        y=[_usd_float(r.idle_usd_micros) for r in rows],
        marker_color=IDLE_COLOR,
    )
    fig.update_layout(barmode="stack", title=title, yaxis_title="USD")
    return charts.render(fig, f"by-{dim}")


def _kpi(name: str, label: str, text: str, value: str, note: str = "") -> str:
    note_html = f'<div class="note">{escape(note)}</div>' if note else ""
    return (
        f'<div class="kpi" data-kpi="{escape(name)}" data-value="{escape(value)}">'
        f'<div class="label">{escape(label)}</div><div class="value">{escape(text)}</div>{note_html}</div>'
    )


def render(data: ReportData, *, generated: datetime, source: str, files: Sequence[str] = ()) -> str:
    """The full HTML document for one report period."""
    s, p = data.summary, data.previous_summary
    charts = _Charts()
    period = data.period
    end_incl = period.window.end
    coverage = f"{s.hours:,} of {data.period_hours:,} hours have allocation data" + (
        "" if data.complete else " - partial period: figures cover only the hours with data"
    )
    trend = data.trend_ratio
    kpis = "".join(
        [
            _kpi(
                "total_usd",
                "Total GPU node cost",
                usd_text(s.total_usd_micros),
                usd_exact(s.total_usd_micros),
                f"{s.nodes:,} nodes, {s.gpu_hours:,.0f} GPU-hours",
            ),
            _kpi(
                "trend",
                f"vs {data.previous.label}",
                pct_text(trend, signed=True),
                "" if trend is None else f"{trend:.6f}",
                f"previous period {usd_text(p.total_usd_micros)}"
                if p.total_usd_micros
                else "no data for the previous period",
            ),
            _kpi(
                "previous_total_usd",
                f"Total {data.previous.label}",
                usd_text(p.total_usd_micros),
                usd_exact(p.total_usd_micros),
                f"{p.hours:,} hours with data",
            ),
            _kpi(
                "idle_usd",
                "Idle GPU cost",
                usd_text(s.idle_usd_micros),
                usd_exact(s.idle_usd_micros),
                f"{pct_text(s.idle_ratio)} of the total, {s.idle_gpu_hours:,.0f} GPU-hours",
            ),
            _kpi(
                "efficiency",
                "Efficiency (used / requested)",
                pct_text(s.efficiency),
                "" if s.efficiency is None else f"{s.efficiency:.6f}",
                f"utilisation of all paid GPU-hours {pct_text(s.utilisation)}",
            ),
            _kpi(
                "unallocated_usd",
                "Unallocated (no team label)",
                usd_text(s.unallocated_usd_micros),
                usd_exact(s.unallocated_usd_micros),
            ),
        ]
    )

    daily_fig = go.Figure()
    days = [str(d.day) for d in data.daily]
    daily_fig.add_bar(
        name="allocated",
        x=days,
        y=[_usd_float(d.allocated_usd_micros) for d in data.daily],
        marker_color=COST_COLOR,
    )
    daily_fig.add_bar(
        name="idle",
        x=days,
        y=[_usd_float(d.idle_usd_micros) for d in data.daily],
        marker_color=IDLE_COLOR,
    )
    daily_fig.update_layout(barmode="stack", title="GPU cost per UTC day", yaxis_title="USD")
    trend_fig = go.Figure()
    trend_fig.add_bar(
        x=[data.previous.label, period.label],
        y=[_usd_float(p.total_usd_micros), _usd_float(s.total_usd_micros)],
        marker_color=[IDLE_COLOR, COST_COLOR],
    )
    trend_fig.update_layout(title="Total vs previous period", yaxis_title="USD", height=300)

    daily_rows = [
        f'<tr data-key="{d.day}">'
        + _cell("day", str(d.day), str(d.day), num=False)
        + _money_cell("allocated_usd", d.allocated_usd_micros)
        + _money_cell("idle_usd", d.idle_usd_micros)
        + _money_cell("cost_usd", d.allocated_usd_micros + d.idle_usd_micros)
        + _hours_cell("gpu_hours", d.gpu_hours)
        + "</tr>"
        for d in data.daily
    ]

    team = data.by["team"]
    eff_rows = [r for r in team if r.key != IDLE and r.efficiency is not None]
    eff_fig = go.Figure()
    eff_fig.add_bar(
        x=[r.key for r in eff_rows],
        y=[round(100 * (r.efficiency or 0), 2) for r in eff_rows],
        marker_color=COST_COLOR,
    )
    eff_fig.update_layout(
        title="Efficiency by team (used / requested GPU-hours)",
        yaxis_title="%",
        yaxis_range=[0, 100],
    )

    token_rows = [
        f'<tr data-key="{escape(t.model)}">'
        + _cell("model", t.model, t.model, num=False)
        + _money_cell("gpu_cost_usd", t.gpu_cost_usd_micros)
        + _cell("input_tokens", f"{t.input_tokens:,}", t.input_tokens)
        + _cell("output_tokens", f"{t.output_tokens:,}", t.output_tokens)
        + _cell("requests", f"{t.requests:,}", t.requests)
        + _cell(
            "usd_per_1m_tokens",
            "n/a" if t.usd_per_1m_tokens is None else f"${t.usd_per_1m_tokens:,.4f}",
            "" if t.usd_per_1m_tokens is None else f"{t.usd_per_1m_tokens:.6f}",
        )
        + _cell(
            "list_usd_per_1m_tokens",
            "n/a" if t.list_usd_per_1m_tokens is None else f"${t.list_usd_per_1m_tokens:,.4f}",
            "" if t.list_usd_per_1m_tokens is None else f"{t.list_usd_per_1m_tokens:.6f}",
        )
        + "</tr>"
        for t in data.tokens
    ]
    priced = [t for t in data.tokens if t.usd_per_1m_tokens is not None]
    tok_fig = go.Figure()
    tok_fig.add_bar(
        name="GPU cost",
        x=[t.model for t in priced],
        y=[t.usd_per_1m_tokens for t in priced],
        marker_color=COST_COLOR,
    )
    tok_fig.add_bar(
        name="LangFuse list price",
        x=[t.model for t in priced],
        y=[t.list_usd_per_1m_tokens for t in priced],
        marker_color=IDLE_COLOR,
    )
    tok_fig.update_layout(
        barmode="group", title="$ per 1M tokens by model", yaxis_title="USD / 1M tokens"
    )

    idle_rows = [
        f'<tr data-key="{escape(n.cluster)}/{escape(n.node)}">'
        + _cell("cluster", n.cluster, num=False)
        + _cell("nodepool", n.nodepool, num=False)
        + _cell("node", n.node, num=False)
        + _cell("instance_type", n.instance_type, num=False)
        + _hours_cell("idle_gpu_hours", n.idle_gpu_hours)
        + _money_cell("idle_usd", n.idle_usd_micros)
        + _ratio_cell("idle_ratio", n.idle_ratio)
        + "</tr>"
        for n in data.idle_nodes
    ]

    sav = data.savings
    if sav.available:
        sav_rows = [
            f'<tr data-key="{escape(r.strategy)}">'
            + _cell("strategy", r.strategy, r.strategy, num=False)
            + _money_cell("baseline_usd", r.baseline_usd_micros)
            + _money_cell("simulated_usd", r.simulated_usd_micros)
            + _money_cell("savings_usd", r.savings_usd_micros)
            + _ratio_cell("savings_ratio", r.savings_ratio)
            + _money_cell("savings_per_month_usd", r.savings_per_month_usd_micros)
            + _cell("risk", r.risk, num=False)
            + "</tr>"
            for r in sav.rows
        ]
        savings_html = f'<p class="note" id="savings-note">{escape(sav.note)}</p>' + _table(
            "savings",
            [
                ("strategy", False),
                ("baseline $", True),
                ("simulated $", True),
                ("saved $", True),
                ("saved %", True),
                ("saved $/month", True),
                ("risk", False),
            ],
            sav_rows,
        )
    else:
        savings_html = f'<p class="note" id="savings-unavailable">{escape(sav.note)}</p>'

    files_html = "".join(f'<li><a href="{escape(f)}">{escape(f)}</a></li>' for f in files)
    sections = [
        f"<header><h1>GPU cost report: {escape(period.title)}</h1>"
        f'<p class="sub" id="period" data-period="{escape(period.label)}" data-start="{period.window.start.isoformat()}"'
        f' data-end="{end_incl.isoformat()}">Window {period.window.start:%Y-%m-%d %H:%M} to {end_incl:%Y-%m-%d %H:%M} UTC'
        f' (half-open). <span id="coverage" class="{"" if data.complete else "warn"}">{escape(coverage)}.</span></p></header>',
        f'<section id="summary"><h2>Summary</h2><div class="kpis">{kpis}</div></section>',
        '<section id="trend"><h2>Trend</h2>'
        + charts.render(daily_fig, "daily")
        + charts.render(trend_fig, "trend")
        + _table(
            "daily",
            [
                ("day (UTC)", False),
                ("allocated $", True),
                ("idle $", True),
                ("cost $", True),
                ("GPU-hours", True),
            ],
            daily_rows,
        )
        + "</section>",
        '<section id="tenants"><h2>Cost by tenant (team)</h2><p class="note">Idle capacity is its own '
        "<code>__idle__</code> row; these are the rows of <code>costlab allocate --by team --idle separate</code>"
        " for the same window.</p>"
        + _dim_chart(charts, "team", team, "GPU cost by team")
        + _table_for(data, "team", "team")
        + "</section>",
        '<section id="clusters"><h2>Cost by cluster</h2>'
        + _dim_chart(charts, "cluster", data.by["cluster"], "GPU cost by cluster (idle stacked)")
        + _table_for(data, "cluster", "cluster")
        + "</section>",
        '<section id="nodepools"><h2>Cost by nodepool</h2>'
        + _dim_chart(charts, "nodepool", data.by["nodepool"], "GPU cost by cluster/nodepool")
        + _table_for(data, "nodepool", "cluster/nodepool")
        + "</section>",
        '<section id="gpu-models"><h2>Cost by GPU model</h2>'
        + _dim_chart(charts, "gpu_model", data.by["gpu_model"], "GPU cost by GPU model")
        + _table_for(data, "gpu_model", "GPU model")
        + "<h2>Cost by capacity type</h2>"
        + _table_for(data, "capacity_type", "capacity type")
        + "</section>",
        '<section id="idle"><h2>Idle</h2><p class="note">Idle = GPU capacity on running nodes that no pod '
        "requested. Top nodes by idle $:</p>"
        + _table(
            "idle-nodes",
            [
                ("cluster", False),
                ("nodepool", False),
                ("node", False),
                ("instance", False),
                ("idle GPU-h", True),
                ("idle $", True),
                ("idle share of node $", True),
            ],
            idle_rows,
        )
        + "</section>",
        '<section id="efficiency"><h2>Efficiency</h2><p class="note">Efficiency = GPU-hours used (requested x '
        "DCGM utilisation) over GPU-hours requested; n/a where usage was not measured.</p>"
        + charts.render(eff_fig, "efficiency")
        + "</section>",
        '<section id="tokens"><h2>Token economics</h2><p class="note">GPU cost of the pods serving a model (pod label '
        "<code>model</code>) over the tokens LangFuse recorded for it, next to LangFuse's list price.</p>"
        + (charts.render(tok_fig, "tokens") if priced else "")
        + _table(
            "tokens",
            [
                ("model", False),
                ("GPU cost $", True),
                ("input tokens", True),
                ("output tokens", True),
                ("requests", True),
                ("$ / 1M tokens", True),
                ("list $ / 1M tokens", True),
            ],
            token_rows,
        )
        + "</section>",
        f'<section id="savings"><h2>Top savings from the simulator</h2>{savings_html}</section>',
        f"<footer><p>Files of this report:</p><ul>{files_html}</ul><p>Generated {generated:%Y-%m-%d %H:%M} UTC by "
        f"costlab from {escape(source)}. Money is exact: integer micro-dollars, shown rounded to the cent; "
        "each cell's exact value is in its data-value attribute.</p></footer>",
    ]
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f'<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>costlab GPU cost report {escape(period.label)}</title><style>{CSS}</style></head>\n<body>\n"
        + "\n".join(sections)
        + "\n</body></html>\n"
    )


def _table_for(data: ReportData, dim: str, label: str) -> str:
    return _dim_table(dim, data.by[dim], data.summary.total_usd_micros, label)
