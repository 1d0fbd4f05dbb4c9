"""Tenants (chargeback): $ and GPU-hours per tenant, efficiency, idle share, drill-down, CSV."""

from __future__ import annotations

import plotly.express as px
import streamlit as st

from dashboards import common
from dashboards import formatting as fmt

ctx = common.context()
st.title("Tenants")
filters = common.require_data(ctx)
q = ctx.queries
common.window_caption(filters)

idle = st.radio(
    "Idle capacity",
    ["separate", "share"],
    horizontal=True,
    key="t_idle",
    format_func={"separate": "own line (__idle__)", "share": "shared by cost, per cluster"}.get,
)
table = q.tenants(filters, idle)
if table.empty:
    common.empty_note("tenant spend")
    st.stop()

st.metric("Chargeback total", fmt.usd(table["total_cost_usd_micros"].iloc[0]))
left, right = st.columns([3, 2])
with left:
    st.dataframe(
        table[
            [
                "tenant",
                "cost_usd",
                "gpu_hours",
                "gpu_hours_used",
                "efficiency_pct",
                "idle_share_pct",
                "idle_gpu_hours",
            ]
        ],
        hide_index=True,
        width="stretch",
        key="tenant_table",
        column_config={
            "tenant": "Tenant",
            "cost_usd": st.column_config.NumberColumn("Cost (USD)", format=fmt.USD_FORMAT),
            "gpu_hours": st.column_config.NumberColumn("GPU-hours", format=fmt.GPU_HOURS_FORMAT),
            "gpu_hours_used": st.column_config.NumberColumn(
                "Used GPU-hours", format=fmt.GPU_HOURS_FORMAT
            ),
            "efficiency_pct": st.column_config.NumberColumn("Efficiency", format=fmt.RATIO_FORMAT),
            "idle_share_pct": st.column_config.NumberColumn("Idle share", format=fmt.RATIO_FORMAT),
            "idle_gpu_hours": st.column_config.NumberColumn(
                "Idle GPU-hours", format=fmt.GPU_HOURS_FORMAT
            ),
        },
    )
    st.download_button(
        "Download CSV",
        table.drop(columns=["cost_usd", "total_cost_usd_micros"]).to_csv(index=False).encode(),
        file_name=f"costlab-chargeback-{filters.start:%Y%m%d}-{filters.end:%Y%m%d}.csv",
        mime="text/csv",
        key="tenant_csv",
        help="Money columns are exact integer micro-dollars (1e-6 USD).",
    )
with right:
    fig = px.bar(
        table,
        x="cost_usd",
        y="tenant",
        orientation="h",
        title="Cost per tenant (USD)",
        color="efficiency_pct",
        color_continuous_scale="RdYlGn",
        range_color=(0, 100),
        labels={"cost_usd": "USD", "tenant": "", "efficiency_pct": "efficiency %"},
    )
    fig.update_layout(yaxis={"autorange": "reversed"})
    fig.update_xaxes(tickprefix="$", tickformat=",.2f")
    common.chart(fig, "tenant_cost")

st.subheader("Drill down")
teams = [t for t in table["tenant"] if t != "__idle__"]
if not teams:
    common.empty_note("tenants to drill into")
    st.stop()
team = st.selectbox("Tenant", teams, key="t_team")
namespaces = q.run("tenant_namespaces", filters, team=team)
if namespaces.empty:
    common.empty_note("namespaces")
    st.stop()
n1, n2 = st.columns([2, 3])
with n1:
    st.dataframe(
        namespaces[["cluster", "namespace", "pods", "cost_usd", "gpu_hours", "efficiency_pct"]],
        hide_index=True,
        width="stretch",
        column_config={
            "cost_usd": st.column_config.NumberColumn("Cost (USD)", format=fmt.USD_FORMAT),
            "gpu_hours": st.column_config.NumberColumn("GPU-hours", format=fmt.GPU_HOURS_FORMAT),
            "efficiency_pct": st.column_config.NumberColumn("Efficiency", format=fmt.RATIO_FORMAT),
        },
    )
with n2:
    namespace = st.selectbox("Namespace", list(dict.fromkeys(namespaces["namespace"])), key="t_ns")
    pods = q.run("tenant_pods", filters, team=team, namespace=namespace, limit=500)
    st.dataframe(
        pods[["pod", "cluster", "model", "nodes", "cost_usd", "gpu_hours", "efficiency_pct"]],
        hide_index=True,
        width="stretch",
        column_config={
            "cost_usd": st.column_config.NumberColumn("Cost (USD)", format=fmt.USD_FORMAT),
            "gpu_hours": st.column_config.NumberColumn("GPU-hours", format=fmt.GPU_HOURS_FORMAT),
            "efficiency_pct": st.column_config.NumberColumn("Efficiency", format=fmt.RATIO_FORMAT),
        },
    )
    st.caption("The 500 most expensive pods of the namespace.")
