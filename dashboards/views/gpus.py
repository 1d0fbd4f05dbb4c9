"""GPUs: utilisation heatmap, idle GPU-hours by hour and weekday, memory headroom, MIG usage,
underutilised nodes."""

from __future__ import annotations

import math

import plotly.express as px
import plotly.graph_objects as go
import streamlit as st

from dashboards import common
from dashboards import formatting as fmt

MAX_COLUMNS = 168  # heatmap time buckets shown at most
WEEKDAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]

ctx = common.context()
st.title("GPUs")
filters = common.require_data(ctx)
q = ctx.queries
common.window_caption(filters)
if ctx.tenant is not None:
    st.caption("Tenant-scoped: utilisation and memory come from your pods' GPUs only.")

hours = int((filters.end - filters.start).total_seconds() // 3600)
bucket = max(1, math.ceil(hours / MAX_COLUMNS))
max_nodes = st.slider("Nodes in the heatmap (busiest first)", 10, 120, 40, step=10, key="g_nodes")
heat = q.run("gpu_heatmap", filters, bucket_hours=bucket, max_nodes=max_nodes)
if heat.empty:
    common.empty_note("DCGM samples")
else:
    heat["node_label"] = (
        heat["cluster"] + "/" + heat["node"].str.replace(".ec2.internal", "", regex=False)
    )
    fig = go.Figure(
        go.Heatmap(
            x=heat["bucket_ts"],
            y=heat["node_label"],
            z=heat["util_pct"],
            zmin=0,
            zmax=100,
            colorscale="RdYlGn",
            colorbar={"title": "util %"},
            hovertemplate="%{y}<br>%{x}<br>%{z:.0f}% busy<extra></extra>",
        )
    )
    fig.update_layout(
        title=f"GPU utilisation per node ({bucket} h buckets, UTC)",
        height=max(300, 14 * heat["node_label"].nunique() + 120),
        yaxis={"autorange": "reversed"},
    )
    common.chart(fig, "heatmap")

st.subheader("Idle GPU-hours by hour of day and weekday (UTC)")
pattern = q.run("gpu_idle_pattern", filters)
if pattern.empty:
    common.empty_note("allocation")
else:
    left, right = st.columns([3, 2])
    with left:
        fig = go.Figure(
            go.Heatmap(
                x=pattern["hour"],
                y=pattern["weekday"],
                z=pattern["waste_gpu_hours"],
                colorscale="Reds",
                colorbar={"title": "GPU-h"},
                hovertemplate="%{y} %{x}:00<br>%{z:,.1f} idle + unused GPU-h<extra></extra>",
            )
        )
        fig.update_layout(
            title="Idle + requested-but-unused GPU-hours",
            yaxis={"categoryorder": "array", "categoryarray": WEEKDAYS[::-1]},
            xaxis={"title": "hour of day", "dtick": 2},
        )
        common.chart(fig, "idle_pattern")
    with right:
        by_period = pattern.groupby("period", as_index=False)[
            ["idle_gpu_hours", "unused_gpu_hours"]
        ].sum()
        fig = px.bar(
            by_period.melt(id_vars="period", var_name="kind", value_name="gpu_hours"),
            x="period",
            y="gpu_hours",
            color="kind",
            title="By period (lunch 12-14, nights 19-08)",
            category_orders={"period": ["business", "lunch", "night", "weekend"]},
            labels={"gpu_hours": "GPU-hours", "period": ""},
        )
        common.chart(fig, "idle_period")

left, right = st.columns(2)
with left:
    st.subheader("Memory headroom")
    memory = q.run("gpu_memory", filters)
    if memory.empty:
        common.empty_note("framebuffer samples")
    else:
        memory["gpu"] = memory["model_name"] + memory["mig_profile"].map(
            lambda p: f" ({p})" if p else ""
        )
        fig = px.bar(
            memory,
            x="gpu",
            y=["mean_used_pct", "p95_used_pct"],
            barmode="group",
            title="GPU memory used (% of framebuffer)",
            labels={"value": "%", "gpu": ""},
        )
        fig.update_yaxes(range=[0, 100])
        common.chart(fig, "memory")
        st.dataframe(
            memory[["gpu", "gpus", "mean_used_pct", "p95_used_pct", "headroom_pct"]],
            hide_index=True,
            width="stretch",
            column_config={
                c: st.column_config.NumberColumn(format=fmt.RATIO_FORMAT)
                for c in ("mean_used_pct", "p95_used_pct", "headroom_pct")
            },
        )
with right:
    st.subheader("MIG usage")
    mig = q.run("gpu_mig", filters)
    if mig.empty:
        st.caption("No MIG instances in these filters.")
    elif not (mig["assigned_pct"] > 0).any() and not (mig["mean_util_pct"] > 0).any():
        st.caption("MIG instances exist but none was assigned to a pod or busy in this window.")
        st.dataframe(
            mig[["cluster", "node", "mig_profile", "instances"]], hide_index=True, width="stretch"
        )
    else:
        mig["node_label"] = (
            mig["cluster"] + "/" + mig["node"].str.replace(".ec2.internal", "", regex=False)
        )
        fig = px.bar(
            mig,
            x="node_label",
            y=["assigned_pct", "mean_util_pct"],
            barmode="group",
            title="MIG instances: % of time assigned to a pod, mean util %",
            labels={"value": "%", "node_label": ""},
            hover_data=["mig_profile", "instances"],
        )
        fig.update_yaxes(range=[0, 100])
        common.chart(fig, "mig")

st.subheader("Underutilised nodes")
threshold = st.slider("Average GPU utilisation below (%)", 5, 100, 40, step=5, key="g_util")
under = q.run("gpu_underutilized", filters, max_util_pct=float(threshold), limit=200)
if under.empty:
    common.empty_note("nodes under that utilisation")
else:
    st.dataframe(
        under[
            [
                "cluster",
                "nodepool",
                "node",
                "instance_type",
                "capacity_type",
                "gpu_model",
                "hours",
                "util_pct",
                "idle_gpu_hours",
                "gpu_hours",
                "cost_usd",
            ]
        ],
        hide_index=True,
        width="stretch",
        column_config={
            "util_pct": st.column_config.NumberColumn("Util", format=fmt.RATIO_FORMAT),
            "idle_gpu_hours": st.column_config.NumberColumn(
                "Idle GPU-hours", format=fmt.GPU_HOURS_FORMAT
            ),
            "gpu_hours": st.column_config.NumberColumn("GPU-hours", format=fmt.GPU_HOURS_FORMAT),
            "cost_usd": st.column_config.NumberColumn("Cost (USD)", format=fmt.USD_FORMAT),
        },
    )
