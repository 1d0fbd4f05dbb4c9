"""The simulator and recommender on the demo fleet (2 days, seed 42) (`costlab demo`)."""

from __future__ import annotations

import pytest
import yaml

from costlab import schemas, store
from costlab.recommend.runner import recommend
from costlab.simulate import runner
from costlab.simulate.base import chain
from costlab.simulate.inputs import load_inputs


@pytest.fixture(scope="module")
def demo_inputs():
    from costlab.demo.run import load_demo

    conn = store.connect(":memory:")
    try:
        load_demo(conn, 2, 42)  # 2 days keeps the test under 20 s
        return load_inputs(conn)
    finally:
        conn.close()


# Plausible savings bands for this fleet (2 days, seed 42: Saturday and Sunday, so nearly the whole
# window is off-hours at weekend load, 45 % of weekday peak, 25 % for the code assistants):
# - rightsize 0.1-5 %: only inference services with small models on larger-than-needed types move
#   (codegen-8b and the recsys ranker); the 70B/405B services and training need their GPU memory.
# - consolidation 3-20 %: the recorded Karpenter pools already consolidate (consolidateAfter
#   5-30 min), so what is left is idle tails, the notebook nodes and packing partially used ones.
# - schedule 3-30 % and at least consolidation: the same replay with faster weekend
#   consolidation plus notebooks/batch stopped off-hours; min replicas and training stay.
# - spot 20-50 %: about half of the inference GPU-hours already run on spot; the rest (p5, p5en
#   and g5 on-demand pools, most of the fleet's dollars) moves at 58-72 % off on-demand.
# - all: more than any single strategy, less than their sum (each step sees the previous fleet).
BANDS_PCT = {
    "rightsize": (0.1, 5.0),
    "consolidation": (3.0, 20.0),
    "schedule": (3.0, 30.0),
    "spot": (20.0, 50.0),
}


def test_demo_savings_are_in_plausible_bands_and_reasons_printed(demo_inputs):
    from rich.console import Console

    results = {r.strategy: r for r in runner.simulate(demo_inputs, "all")}
    for name, (lo, hi) in BANDS_PCT.items():
        pct = 100 * results[name].savings_ratio
        assert lo <= pct <= hi, f"{name} saves {pct:.2f} %, outside its band {lo}-{hi} %"
    pct = {n: 100 * r.savings_ratio for n, r in results.items()}
    assert pct["schedule"] >= pct["consolidation"]
    assert max(pct[n] for n in BANDS_PCT) < pct["all"] < sum(pct[n] for n in BANDS_PCT)
    sched = results["schedule"].metrics
    assert 5.0 <= sched["offhours_reduction_pct"] <= 50.0
    assert sched["offhours_reduction_pct"] >= sched["offhours_reduction_pct_idle_removal_only"]
    spot = results["spot"].metrics
    assert spot["inference_gpu_hours_on_spot_pct"] >= 70.0
    assert 30.0 <= spot["inference_gpu_hours_on_spot_pct_baseline"] <= 70.0
    console = Console(record=True, width=200)
    runner.print_assumptions(list(results.values()), console)
    text = console.export_text()
    for name in results:
        assert f"{name} assumptions:" in text
    assert "off-hours reduction: off-hours node-hours" in text
    assert "prod-use1=America/New_York" in text and "prod-usw2=America/Los_Angeles" in text
    assert "spot price from the default discount:" in text
    assert "inference GPU-hours on spot:" in text
    assert "memory need = p95" in text


def test_demo_all_strategies_compose(demo_inputs):
    results = {r.strategy: r for r in runner.simulate(demo_inputs, "all")}
    singles = sum(results[n].savings_usd_micros for n in chain())
    assert demo_inputs.baseline_cost_usd_micros > 0
    assert all(r.undefined is None for r in results.values())
    assert 0 < results["all"].savings_usd_micros < singles
    assert 0 <= results["spot"].metrics["inference_gpu_hours_on_spot_pct"] <= 100
    assert results["rightsize"].risk["workloads_moved"] >= 1


def test_demo_recommendations_validate(demo_inputs):
    rec, files = recommend(demo_inputs)  # raises schemas.SchemaError on an invalid manifest
    assert rec.nodepools and "summary.md" in files
    for obj in (*rec.nodepools, *rec.scaledobjects):
        schemas.validate(obj)
    assert yaml.safe_load(files["nodepool-costlab-gpu-inference.yaml"])["kind"] == "NodePool"
