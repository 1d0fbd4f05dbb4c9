"""The simulator and recommender on the demo fleet (2 days, seed 42) (`costlab demo`)."""

from __future__ import annotations

import jsonschema
import pytest
import yaml

from costlab import store
from costlab.recommend.runner import recommend
from costlab.simulate import runner
from costlab.simulate.inputs import load_inputs
from tests.simulate.crd_schema import crd_schema


@pytest.fixture(scope="module")
def demo_inputs():
    from costlab.demo.run import load_demo

    conn = store.connect(":memory:")
    try:
        load_demo(conn, 2, 42)  # 2 days keeps the test under 20 s
        return load_inputs(conn)
    finally:
        conn.close()


def test_demo_all_strategies_compose(demo_inputs):
    results = {r.strategy: r for r in runner.simulate(demo_inputs, "all")}
    singles = sum(results[n].savings_usd_micros for n in runner.SINGLES)
    assert demo_inputs.baseline_cost_usd_micros > 0
    assert all(r.undefined is None for r in results.values())
    assert 0 < results["all"].savings_usd_micros < singles
    assert 0 <= results["spot"].metrics["inference_gpu_hours_on_spot_pct"] <= 100
    assert results["rightsize"].risk["workloads_moved"] >= 1


def test_demo_recommendations_validate(demo_inputs, shared_dir):
    np_schema = crd_schema(shared_dir / "schemas/karpenter-aws/karpenter.sh_nodepools.yaml", "v1")
    so_schema = crd_schema(shared_dir / "schemas/keda/keda.sh_scaledobjects.yaml", "v1alpha1")
    rec, files = recommend(demo_inputs)
    assert rec.nodepools and "summary.md" in files
    for obj in rec.nodepools:
        jsonschema.validate(obj, np_schema)
    for obj in rec.scaledobjects:
        jsonschema.validate(obj, so_schema)
    assert yaml.safe_load(files["nodepool-costlab-gpu-inference.yaml"])["kind"] == "NodePool"
