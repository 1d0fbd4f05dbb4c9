"""Tokens and sessions: real GPU $ per 1M tokens vs LangFuse list price, cost per
session / user / trace, tokens over time."""

from __future__ import annotations

import plotly.express as px
import streamlit as st

from dashboards import common
from dashboards import formatting as fmt

ctx = common.context()
st.title("Tokens and sessions")
filters = common.require_data(ctx)
q = ctx.queries
common.window_caption(filters)

match = st.radio(
    "Join GPU cost to tokens by",
    ["model", "deployment"],
    horizontal=True,
    key="k_match",
    help="As `costlab tokens --match`: the serving pods' `model` label, or their deployment "
    "label against LangFuse's deployment.",
)
rates = q.token_rates(filters, match)
if rates.empty:
    common.empty_note("model-serving GPU cost or LangFuse observations")
    st.stop()
rates = rates.assign(
    tokens=rates["input_tokens"] + rates["output_tokens"],
    gpu_over_list_ratio=rates["usd_per_1m_tokens"] / rates["list_usd_per_1m_tokens"],
)

st.subheader("$ per 1M tokens: GPU cost vs LangFuse list price")
priced = rates[rates["tokens"] > 0]
if priced.empty:
    common.empty_note("tokens")
else:
    fig = px.bar(
        priced.melt(
            id_vars="serving_key",
            value_vars=["usd_per_1m_input", "usd_per_1m_output", "list_usd_per_1m_tokens"],
            var_name="price",
            value_name="usd_per_1m",
        ),
        x="serving_key",
        y="usd_per_1m",
        color="price",
        barmode="group",
        title="USD per 1M tokens",
        labels={"usd_per_1m": "USD / 1M tokens", "serving_key": ""},
    )
    fig.for_each_trace(
        lambda t: t.update(
            name={
                "usd_per_1m_input": "GPU cost, input",
                "usd_per_1m_output": "GPU cost, output",
                "list_usd_per_1m_tokens": "LangFuse list",
            }.get(t.name, t.name)
        )
    )
    fig.update_yaxes(tickprefix="$", tickformat=",.2f")
    common.chart(fig, "per_1m")
per_1m = {
    c: st.column_config.NumberColumn(label, format=fmt.USD_PER_1M_FORMAT)
    for c, label in [
        ("usd_per_1m_input", "GPU $/1M in"),
        ("usd_per_1m_output", "GPU $/1M out"),
        ("usd_per_1m_tokens", "GPU $/1M"),
        ("list_usd_per_1m_tokens", "List $/1M"),
    ]
}
st.dataframe(
    rates.assign(
        gpu_cost=rates["gpu_cost_usd_micros"].map(fmt.usd),
        langfuse_cost=rates["list_usd_micros"].map(fmt.usd),
        tokens_fmt=rates["tokens"].map(fmt.tokens),
    )[
        [
            "serving_key",
            "gpu_cost",
            "tokens_fmt",
            "requests",
            *per_1m,
            "langfuse_cost",
            "gpu_over_list_ratio",
        ]
    ],
    hide_index=True,
    width="stretch",
    column_config={
        "serving_key": match.title(),
        "gpu_cost": "GPU cost",
        "tokens_fmt": "Tokens",
        "langfuse_cost": "LangFuse cost",
        **per_1m,
        "gpu_over_list_ratio": st.column_config.NumberColumn("GPU / list", format="%.2fx"),
    },
)
st.caption(
    "The same rates as `costlab tokens`: a serving key's GPU cost spread over its tokens, output "
    "tokens weighted by `[allocate] output_token_weight`."
)

st.subheader("Cost per session, user or trace")
grain = st.radio("Per", ["session", "user", "trace"], horizontal=True, key="k_grain")
hist, quant = q.session_costs(filters, grain, match)
if hist.empty or quant.empty or not quant["units"].iloc[0]:
    common.empty_note(f"{grain}s with GPU cost")
else:
    row = quant.iloc[0]
    m = st.columns(5)
    m[0].metric(f"{grain.title()}s", f"{int(row['units']):,}")
    m[1].metric("Median", fmt.usd(row["p50_usd_micros"]))
    m[2].metric("p90", fmt.usd(row["p90_usd_micros"]))
    m[3].metric("p99", fmt.usd(row["p99_usd_micros"]))
    m[4].metric(
        "Mean (LangFuse list)",
        fmt.usd(row["list_mean_usd_micros"]),
        help=f"GPU-cost mean {fmt.usd(row['mean_usd_micros'])}",
    )
    hist = hist.assign(bin=hist["bin_lo_usd"].map(lambda v: f"${v:,.4g}"))
    fig = px.bar(
        hist,
        x="bin",
        y="units",
        title=f"GPU cost per {grain} (log bins, lower edge in USD)",
        labels={"units": f"{grain}s", "bin": ""},
    )
    fig.update_xaxes(type="category")
    common.chart(fig, "dist")
    st.caption(
        "Each request costs its weighted tokens at its serving key's GPU rate above; a unit's "
        "cost is the sum over its requests, as `costlab tokens --by session|user|trace`."
    )

st.subheader("Tokens over time")
hours = (filters.end - filters.start).total_seconds() / 3600
daily = q.run("tokens_daily", filters, bucket_hours=1 if hours <= 72 else 24)
if daily.empty:
    common.empty_note("LangFuse observations")
else:
    fig = px.area(
        daily,
        x="bucket_ts",
        y="tokens",
        color="model",
        title="Tokens (input + output)",
        labels={"bucket_ts": "", "tokens": "tokens"},
    )
    common.chart(fig, "tokens_time")
