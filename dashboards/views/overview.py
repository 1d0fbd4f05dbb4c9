"""Overview: spend for the period, trend, month-end forecast vs budget, breakdowns, top movers."""

from __future__ import annotations

import plotly.express as px
import plotly.graph_objects as go
import streamlit as st

from dashboards import common
from dashboards import formatting as fmt

ctx = common.context()
st.title("Overview")
filters = common.require_data(ctx)
q = ctx.queries
common.window_caption(filters)

totals = q.run("overview_totals", filters).iloc[0]
forecast = q.run("overview_forecast", filters, budget_usd_micros=ctx.budget_usd_micros).iloc[0]

c1, c2, c3, c4, c5 = st.columns(5)
c1.metric(
    "Spend", fmt.usd(totals["cost_usd_micros"]), help="GPU node cost in the window, idle included."
)
c2.metric("GPU-hours", fmt.gpu_hours(totals["gpu_hours"]), help="Requested plus idle GPU-hours.")
c3.metric(
    "Idle share",
    fmt.pct(totals["idle_ratio"]),
    help=f"Idle capacity cost {fmt.usd(totals['idle_cost_usd_micros'])} of the spend.",
)
c4.metric("Efficiency", fmt.pct(totals["efficiency_ratio"]), help="Used over requested GPU-hours.")
c5.metric(
    f"Forecast {forecast['month_start_ts']:%b %Y}",
    fmt.usd(forecast["forecast_usd_micros"]),
    help=f"Month to date {fmt.usd(forecast['mtd_usd_micros'])} + "
    f"{fmt.usd(forecast['daily_run_rate_usd_micros'])}/day (last 7 days) "
    f"x {forecast['days_left']:.1f} days left.",
)
if totals["unpriced_node_hours"] > 0:
    st.warning(
        f"{totals['unpriced_node_hours']:,.1f} node-hours could not be priced "
        "and are not in the spend."
    )

left, right = st.columns([2, 1])
with left:
    daily = q.run("overview_daily", filters)
    if daily.empty:
        common.empty_note("spend")
    else:
        fig = px.bar(
            daily,
            x="day",
            y="cost_usd",
            color="kind",
            title="Daily spend (USD)",
            color_discrete_map={"allocated": "#4c78a8", "idle": "#e45756"},
            labels={"cost_usd": "USD", "day": ""},
        )
        fig.update_yaxes(tickprefix="$", tickformat=",.2f")
        common.chart(fig, "daily")
with right:
    if ctx.budget_usd_micros is None:
        st.subheader("Budget")
        st.caption(
            f"Set {common.BUDGET_ENV} (USD per month) to compare the forecast with a budget."
        )
        st.metric("Month to date", fmt.usd(forecast["mtd_usd_micros"]))
    else:
        st.subheader("Budget vs actual")
        b1, b2 = st.columns(2)
        b1.metric("Monthly budget", fmt.usd(forecast["budget_usd_micros"]))
        b2.metric(
            "Left after forecast",
            fmt.usd(forecast["budget_left_usd_micros"]),
            delta=fmt.pct(forecast["budget_used_ratio"]) + " of budget",
            delta_color="off",
        )
        bars = go.Figure(
            go.Bar(
                x=["Month to date", "Forecast", "Budget"],
                y=[forecast["mtd_usd"], forecast["forecast_usd"], forecast["budget_usd"]],
                marker_color=["#4c78a8", "#f58518", "#54a24b"],
            )
        )
        bars.update_yaxes(tickprefix="$", tickformat=",.2f")
        bars.update_layout(title="Month to date, forecast, budget")
        common.chart(bars, "budget")

st.subheader("Spend by")
cols = st.columns(4)
for col, (dim, title) in zip(
    cols,
    [
        ("cluster", "Cluster"),
        ("nodepool", "Nodepool"),
        ("capacity_type", "Capacity type"),
        ("gpu_model", "GPU model"),
    ],
    strict=True,
):
    with col:
        part = q.breakdown(filters, dim)
        if part.empty:
            common.empty_note(title.lower())
            continue
        fig = px.pie(part, names="value", values="cost_usd", title=title, hole=0.45)
        fig.update_traces(
            textinfo="percent", hovertemplate="%{label}: $%{value:,.2f}<extra></extra>"
        )
        fig.update_layout(showlegend=len(part) <= 6, legend={"orientation": "h"})
        common.chart(fig, f"by_{dim}")

st.subheader("Top movers vs the previous period")
movers = q.run("overview_movers", filters, limit=10)
if movers.empty:
    common.empty_note("tenant spend")
else:
    fig = px.bar(
        movers,
        x="delta_usd",
        y="team",
        orientation="h",
        title="Change in spend (USD)",
        color=movers["delta_usd"] > 0,
        color_discrete_map={True: "#e45756", False: "#54a24b"},
        labels={"delta_usd": "USD", "team": ""},
    )
    fig.update_layout(showlegend=False, yaxis={"autorange": "reversed"})
    fig.update_xaxes(tickprefix="$", tickformat=",.2f")
    common.chart(fig, "movers")
    st.dataframe(
        movers.assign(
            current=movers["current_usd_micros"].map(fmt.usd),
            previous=movers["previous_usd_micros"].map(fmt.usd),
            change=movers["delta_usd_micros"].map(fmt.usd_delta),
            change_pct=movers["delta_ratio"].map(fmt.pct),
        )[["team", "current", "previous", "change", "change_pct"]],
        hide_index=True,
        width="stretch",
    )
