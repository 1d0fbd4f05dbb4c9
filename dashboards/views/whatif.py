"""What-if: replay the recorded fleet under other settings (costlab.simulate) and download the
recommended Karpenter NodePool YAML (costlab.recommend). Off in tenant-scoped mode (it replays
the whole fleet)."""

from __future__ import annotations

import os

import plotly.express as px
import streamlit as st

from costlab.errors import CostlabError
from costlab.simulate.combined import Combined, CombinedSettings
from costlab.simulate.consolidation import ConsolidationSettings
from costlab.simulate.rightsize import RightsizeSettings
from costlab.simulate.runner import load as load_inputs
from costlab.simulate.schedule import ScheduleSettings
from costlab.simulate.spot import SpotSettings
from dashboards import common
from dashboards import formatting as fmt

ctx = common.context()
st.title("What-if")
common.require_data(ctx)

if ctx.tenant is not None:
    st.info("The simulator replays the whole fleet, so it is not available in tenant-scoped mode.")
    st.stop()


def _stamp(path: str) -> tuple[int, int]:
    stat = os.stat(path)
    return stat.st_mtime_ns, stat.st_size


@st.cache_resource(show_spinner="Loading the recorded fleet...", max_entries=2)
def _inputs(path: str, stamp: tuple[int, int]):  # noqa: ANN202
    del stamp
    return load_inputs(path)


@st.cache_data(show_spinner="Replaying...", max_entries=32)
def _simulate(path: str, stamp: tuple[int, int], settings_json: str) -> list[dict]:
    settings = CombinedSettings.model_validate_json(settings_json)
    combined = Combined(settings)
    inputs = _inputs(path, stamp)
    steps = [step.run(inputs) for step in combined.steps()]  # each alone, for the table
    chained = combined.run(inputs)
    return [
        r.to_dict() | {"savings_per_month_usd_micros": r.savings_per_month_usd_micros}
        for r in [*steps, chained]
    ]


@st.cache_data(show_spinner="Building NodePool YAML...", max_entries=4)
def _recommended_yaml(path: str, stamp: tuple[int, int], settings_json: str) -> dict[str, str]:
    """The manifests for the settings on the sliders, so the YAML matches the savings shown."""
    from costlab.recommend.runner import recommend

    settings = CombinedSettings.model_validate_json(settings_json)
    _, files = recommend(_inputs(path, stamp), settings=settings)
    return files


db = ctx.queries.db_path
stamp = _stamp(db)
st.caption(
    "Replays the recorded fleet minute by minute under the settings below; savings are for the "
    "recorded window and scaled to a 730-hour month."
)
c1, c2, c3, c4 = st.columns(4)
spot = c1.slider("Inference spot share target (%)", 0, 100, 70, step=5, key="w_spot")
after = c2.slider("consolidateAfter (minutes)", 0, 240, 30, step=5, key="w_after")
start_h, end_h = c3.slider("Business hours (UTC, Mon-Fri)", 0, 24, (8, 18), key="w_hours")
headroom = c4.slider("Right-sizing memory headroom (%)", 0, 100, 20, step=5, key="w_headroom")
end_h = max(end_h, start_h + 1)

settings = CombinedSettings(
    rightsize=RightsizeSettings(headroom_pct=float(headroom)),
    consolidation=ConsolidationSettings(consolidate_after_minutes=after),
    schedule=ScheduleSettings(
        business_schedule=f"0 {start_h} * * 1-5",
        business_duration=f"{end_h - start_h}h",
        evening_schedule=f"0 {end_h % 24} * * 1-5",
        evening_duration=f"{24 - (end_h - start_h)}h",
    ),
    spot=SpotSettings(target_inference_spot_share_pct=float(spot)),
)
if not st.toggle("Run the simulation", value=True, key="w_run"):
    st.stop()
try:
    results = _simulate(db, stamp, settings.model_dump_json())
except (CostlabError, ValueError) as exc:  # e.g. no nodes to replay: show, do not crash
    st.warning(f"The simulator failed on this database: {exc}")
    st.stop()

chained = results[-1]
m1, m2, m3 = st.columns(3)
m1.metric("Baseline (window)", fmt.usd(chained["baseline_cost_usd_micros"]))
m2.metric(
    "Simulated (window)",
    fmt.usd(chained["simulated_cost_usd_micros"]),
    delta=f"-{chained['savings_pct']:.1f}%",
    delta_color="inverse",
)
m3.metric("Saved per month", fmt.usd(chained["savings_per_month_usd_micros"]))
st.dataframe(
    [
        {
            "strategy": r["strategy"],
            "saved (window)": fmt.usd(r["savings_usd_micros"]),
            "saved %": f"{r['savings_pct']:.2f}%",
            "saved / month": fmt.usd(r["savings_per_month_usd_micros"]),
            "note": r["undefined"] or "; ".join(r["assumptions"][:1]),
        }
        for r in results
    ],
    hide_index=True,
    width="stretch",
)

fig = px.bar(
    x=[r["strategy"] for r in results],
    y=[float(r["savings_per_month_usd"]) for r in results],
    title="Saved per month (USD), each strategy alone and chained ('all')",
    labels={"x": "", "y": "USD / month"},
)
fig.update_yaxes(tickprefix="$", tickformat=",.2f")
common.chart(fig, "whatif_savings")

st.subheader("Recommended NodePools")
if st.button("Build recommended YAML", key="w_yaml"):
    files = _recommended_yaml(db, stamp, settings.model_dump_json())
    nodepools = "\n---\n".join(text for name, text in files.items() if name.endswith(".yaml"))
    st.download_button(
        "Download NodePool YAML",
        nodepools.encode(),
        file_name="costlab-nodepools.yaml",
        mime="application/x-yaml",
        key="w_download",
    )
    with st.expander("NodePool YAML"):
        st.code(nodepools, language="yaml")
    with st.expander("summary.md"):
        st.markdown(files.get("summary.md", ""))
