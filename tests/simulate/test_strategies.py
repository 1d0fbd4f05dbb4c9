"""Hand-checked scenarios for each strategy, on tiny fleets (see fleet_fixtures.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from costlab import store
from costlab.cli import main
from costlab.simulate import runner
from costlab.simulate.base import (
    STRATEGIES,
    UnknownStrategyError,
    chain,
    get_strategy,
    strategy_names,
)
from costlab.simulate.budgets import Budget, removals_and_evictions
from costlab.simulate.consolidation import Consolidation, ConsolidationSettings
from costlab.simulate.inputs import load_inputs
from costlab.simulate.rightsize import Rightsize
from costlab.simulate.schedule import Schedule, ScheduleSettings
from costlab.simulate.spot import Spot, SpotSettings
from tests.simulate.fleet_fixtures import add_memory, add_node, add_pod, add_price

G5 = 1_006_000  # g5.xlarge on-demand, micro-dollars per hour


def test_registry_lists_valid_names_and_help_uses_settings():
    with pytest.raises(
        UnknownStrategyError,
        match="valid strategies: all, consolidation, rightsize, schedule, spot",
    ):
        get_strategy("bogus")
    assert {"spot", "consolidation", "schedule", "rightsize", "all"} <= set(STRATEGIES)
    assert "consolidateAfter 30 min" in get_strategy("consolidation").help()
    assert "{" not in get_strategy("spot").help()


def test_idle_night_node_is_consolidated_after_consolidate_after(fresh_db):
    # one g5.xlarge from Mon 08:00 to Tue 08:00; its only pod runs 08:00-18:00.
    # consolidateAfter 30m: the node goes at 18:30 -> 10.5 node-hours instead of 24,
    # 13.5 h x $1.006 = $13.581 saved; it stood idle 0.5 h before removal.
    add_price(fresh_db, "g5.xlarge", G5)
    add_node(fresh_db, "n1", 8, 32)
    add_pod(fresh_db, "llm-7b-abc12", "n1", 8, 18)
    inputs = load_inputs(fresh_db)
    assert inputs.baseline_cost_usd_micros == 24 * G5
    for policy in ("WhenEmpty", "WhenEmptyOrUnderutilized"):
        res = Consolidation(ConsolidationSettings(policy=policy, consolidate_after_minutes=30)).run(
            inputs
        )
        assert res.savings_usd_micros == 13_581_000
        assert res.metrics["node_hours_removed"] == pytest.approx(13.5)
        assert res.metrics["mean_hours_idle_before_removal_simulated"] == pytest.approx(0.5)
        assert res.risk["pods_evicted"] == 0


def test_budget_zero_in_business_hours_blocks_disruption(fresh_db):
    # the pod ends Monday 10:00; a budget of "0" from 09:00 for 8 h blocks removal until 17:00
    # (instead of 10:30): node runs 00:00-17:00 = 17 h; removed 24 - 17 = 7 h = $7.042.
    add_price(fresh_db, "g5.xlarge", G5)
    add_node(fresh_db, "n1", 0, 24)
    add_pod(fresh_db, "llm-7b-abc12", "n1", 0, 10)
    inputs = load_inputs(fresh_db)
    blocked = Consolidation(
        ConsolidationSettings(
            consolidate_after_minutes=30,
            budgets=[
                Budget(nodes="100%"),
                Budget(nodes="0", schedule="0 9 * * mon-fri", duration="8h"),
            ],
        )
    ).run(inputs)
    assert blocked.metrics["node_hours_simulated"] == pytest.approx(17.0)
    assert blocked.savings_usd_micros == 7 * G5
    free = Consolidation(ConsolidationSettings(consolidate_after_minutes=30)).run(inputs)
    assert free.metrics["node_hours_simulated"] == pytest.approx(10.5)


def test_underutilized_packs_where_when_empty_cannot(fresh_db):
    # two g5.12xlarge (4 GPUs, $5.672/h) for 10 h, each with one 1-GPU pod the whole time:
    # WhenEmpty removes nothing; WhenEmptyOrUnderutilized packs both pods on one node after 1 h
    # (consolidateAfter 60m) -> 9 node-hours x $5.672 = $51.048 saved, 1 pod evicted.
    add_price(fresh_db, "g5.12xlarge", 5_672_000)
    for n in ("a", "b"):
        add_node(fresh_db, n, 0, 10, itype="g5.12xlarge", gpus=4)
        add_pod(fresh_db, f"svc-{n}1234", n, 0, 10)
    inputs = load_inputs(fresh_db)
    empty = Consolidation(
        ConsolidationSettings(policy="WhenEmpty", consolidate_after_minutes=60)
    ).run(inputs)
    under = Consolidation(
        ConsolidationSettings(consolidate_after_minutes=60, budgets=[Budget(nodes="100%")])
    ).run(inputs)
    assert empty.savings_usd_micros == 0
    assert under.savings_usd_micros == 51_048_000
    assert under.risk["pods_evicted"] == pytest.approx(1.0)


def test_spot_interruption_adds_fallback_cost(fresh_db):
    # one on-demand g5.xlarge 10 h running inference; spot in us-east-1a is $0.40/h.
    # configured 2.4 interruptions per node-day -> 10 h x 2.4 / 24 = 1 interruption, costing
    # 6 min of on-demand boot ($0.1006) + 1 h on on-demand fallback ($1.006 - $0.40 = $0.606).
    # simulated = 10 x 0.40 + 0.1006 + 0.606 = $4.7066; saved = 10.06 - 4.7066 = $5.3534.
    add_price(fresh_db, "g5.xlarge", G5)
    add_price(
        fresh_db, "g5.xlarge", 400_000, ctype="spot", zone="us-east-1a", source="spot-history"
    )
    add_node(fresh_db, "n1", 0, 10)
    add_pod(fresh_db, "llm-7b-abc12", "n1", 0, 10)
    inputs = load_inputs(fresh_db)
    s = SpotSettings(interruption_source="configured", interruptions_per_node_day={"g5": 2.4})
    res = Spot(s).run(inputs)
    assert res.risk["expected_interruptions"] == pytest.approx(1.0)
    assert res.simulated_cost_usd_micros == 4_706_600
    assert res.savings_usd_micros == 5_353_400
    assert res.metrics["inference_gpu_hours_on_spot_pct"] == pytest.approx(90.0)
    no_int = Spot(
        SpotSettings(interruption_source="configured", default_interruptions_per_node_day=0)
    ).run(inputs)
    assert no_int.simulated_cost_usd_micros == 4_000_000


def test_spot_observed_interruptions_and_training_stays_on_demand(fresh_db):
    # observed: one spot g5 node of 24 h ended 'interrupted' -> 1 interruption per node-day.
    add_price(fresh_db, "g5.xlarge", G5)
    add_price(
        fresh_db, "g5.xlarge", 400_000, ctype="spot", zone="us-east-1a", source="spot-history"
    )
    add_node(fresh_db, "s1", 0, 24, ctype="spot", end_reason="interrupted")
    add_node(fresh_db, "t1", 0, 24, pool="train")
    add_pod(fresh_db, "trainer-abc12", "t1", 0, 24, ns="research", kind="training")
    res = Spot().run(load_inputs(fresh_db))
    assert res.savings_usd_micros == 0  # training is not eligible


def test_rightsize_picks_g5_xlarge_for_12_gib(fresh_db):
    # 1-GPU pod on p4d.24xlarge (8 x A100, $21.957642/h), 12 GiB used: 12288 x 1.2 = 14745.6 MiB.
    # T4 (g4dn, 16 GiB) and L4 (g6) fit but are under 600 GB/s; cheapest fit: g5.xlarge at $1.006.
    add_price(fresh_db, "p4d.24xlarge", 21_957_642)
    add_node(fresh_db, "p1", 0, 10, itype="p4d.24xlarge", gpus=8, gpu_model="A100", mem=40960)
    add_pod(fresh_db, "llm-7b-abc12", "p1", 0, 10)
    add_memory(fresh_db, "llm-7b-abc12", "p1", "serving", [12288] * 30)
    inputs = load_inputs(fresh_db)
    res = Rightsize().run(inputs)
    (row,) = res.details
    assert row["recommended_type"] == "g5.xlarge"
    assert row["need_mib"] == pytest.approx(14745.6)
    # baseline share: 10 GPU-h x 21.957642 / 8 = $27.4470525; new: 10 x 1.006 = $10.06
    assert row["baseline_usd"] == pytest.approx(27.447053, abs=1e-6)
    # saved 27.4470525 - 10.06 = 17.3870525 -> 17_387_053 micros (rounded once, at the end)
    assert res.savings_usd_micros == 17_387_053


def test_combined_is_less_than_sum_of_singles(fresh_db):
    add_price(fresh_db, "g5.xlarge", G5)
    add_price(
        fresh_db, "g5.xlarge", 400_000, ctype="spot", zone="us-east-1a", source="spot-history"
    )
    add_node(fresh_db, "n1", 8, 32)
    add_pod(fresh_db, "llm-7b-abc12", "n1", 8, 18)
    results = {r.strategy: r for r in runner.simulate(load_inputs(fresh_db), "all")}
    singles = sum(results[n].savings_usd_micros for n in chain())
    assert 0 < results["all"].savings_usd_micros < singles
    assert results["all"].simulated_cost_usd_micros > 0


def test_json_render_is_sorted_and_deterministic(fresh_db):
    add_price(fresh_db, "g5.xlarge", G5)
    add_node(fresh_db, "n1", 8, 32)
    add_pod(fresh_db, "llm-7b-abc12", "n1", 8, 18)
    inputs = load_inputs(fresh_db)
    a = runner.render_json(runner.simulate(inputs, "consolidation"))
    b = runner.render_json(runner.simulate(inputs, "consolidation"))
    assert a == b
    assert json.loads(a)[0]["savings_usd_micros"] == 13_581_000


def test_cli_entry_on_a_file(tmp_path: Path):
    from rich.console import Console

    from costlab import store

    db = tmp_path / "f.duckdb"
    conn = store.connect(db)
    add_price(conn, "g5.xlarge", G5)
    add_node(conn, "n1", 8, 32)
    add_pod(conn, "llm-7b-abc12", "n1", 8, 18)
    conn.close()
    out = runner.simulate_from_cli(db, strategy="consolidation", fmt="json", console=Console())
    assert json.loads(out)[0]["strategy"] == "consolidation"


def test_spot_price_falls_back_to_other_zones_then_default_discount(fresh_db):
    # 10 h each, inference only, no interruptions (configured 0):
    # - g5.xlarge in us-east-1b has no spot history there, but 1a ($0.40) and 1c ($0.60) do:
    #   the mean of the region's other zones, $0.50/h -> $5.00;
    # - g5.2xlarge ($1.212 on-demand) has no spot price in any zone: default 50 % -> $0.606/h.
    # baseline 10.06 + 12.12 = $22.18; simulated 5.00 + 6.06 = $11.06; saved $11.12.
    add_price(fresh_db, "g5.xlarge", G5)
    add_price(fresh_db, "g5.2xlarge", 1_212_000)
    for zone, usd in (("us-east-1a", 400_000), ("us-east-1c", 600_000)):
        add_price(fresh_db, "g5.xlarge", usd, ctype="spot", zone=zone, source="spot-history")
    add_node(fresh_db, "n1", 0, 10, zone="us-east-1b")
    add_pod(fresh_db, "llm-7b-abc12", "n1", 0, 10)
    add_node(fresh_db, "n2", 0, 10, itype="g5.2xlarge")
    add_pod(fresh_db, "ranker-abc12", "n2", 0, 10)
    inputs = load_inputs(fresh_db)
    assert [g.spot_price_source for g in inputs.fleet.groups] == ["", "other-zones"]
    quiet = {"interruption_source": "configured", "default_interruptions_per_node_day": 0}
    res = Spot(SpotSettings(**quiet)).run(inputs)
    assert res.baseline_cost_usd_micros == 22_180_000
    assert res.simulated_cost_usd_micros == 11_060_000
    sources = {d["instance_type"]: d["spot_price_source"] for d in res.details}
    assert sources == {"g5.xlarge": "other-zones", "g5.2xlarge": "default 50% discount"}
    assert res.metrics["inference_gpu_hours_on_spot_pct"] == pytest.approx(100.0)
    assert res.metrics["inference_gpu_hours_on_spot_pct_baseline"] == 0.0
    text = "; ".join(res.assumptions)
    assert "on-demand minus a default 50% discount" in text
    assert "spot price from the default discount: c1/gpu/g5.2xlarge" in text
    assert "spot price from other zones of the region: c1/gpu/g5.xlarge" in text
    # no default: g5.2xlarge stays on-demand and half the inference GPU-hours are not on spot
    strict = Spot(SpotSettings(**quiet, default_spot_discount_pct=None)).run(inputs)
    assert strict.simulated_cost_usd_micros == 5_000_000 + 12_120_000
    assert strict.metrics["inference_gpu_hours_on_spot_pct"] == pytest.approx(50.0)
    assert "left on on-demand (no spot price): c1/gpu/g5.2xlarge" in "; ".join(strict.assumptions)


def test_schedule_stops_notebooks_off_hours_in_cluster_local_time(fresh_db):
    # us-east-1 -> America/New_York (EST, UTC-5 on Mon 2 March 2026). Window Mon 00:00-24:00 UTC.
    # Business hours 08:00-18:00 local = 13:00-23:00 UTC; off-hours = 0-13 and 23-24 UTC = 14 h.
    # n1 serves inference all day (kept: kinds not listed keep their demand).
    # n2 runs a notebook all day; notebooks keep 0 % off-hours. consolidateAfter off-hours is
    # 15 min (the first 15 min wait, like any surplus at the start), budgets allow 1 node:
    # n2 lives 00:00-00:15, comes back at 13:00 (demand returns), goes at 23:15 -> 10.5 h.
    # off-hours node-hours: recorded 14 + 14 = 28; simulated 14 + 0.25 + 0.25 = 14.5
    # reduction 1 - 14.5/28 = 48.2142857 %; saved 13.5 h x $1.006 = $13.581.
    add_price(fresh_db, "g5.xlarge", G5)
    add_node(fresh_db, "n1", 0, 24)
    add_pod(fresh_db, "llm-7b-abc12", "n1", 0, 24)
    add_node(fresh_db, "n2", 0, 24)
    add_pod(fresh_db, "jupyter-abc12", "n2", 0, 24, ns="sandbox", kind="notebook")
    inputs = load_inputs(fresh_db)
    res = Schedule().run(inputs)
    m = res.metrics
    assert m["offhours_node_hours_baseline"] == pytest.approx(28.0)
    assert m["offhours_node_hours_simulated"] == pytest.approx(14.5)
    assert m["offhours_reduction_pct"] == pytest.approx(100 * (1 - 14.5 / 28))
    assert m["offhours_reduction_pct_idle_removal_only"] == pytest.approx(0.0)
    assert m["offhours_cost_reduction_pct"] == pytest.approx(100 * (1 - 14.5 / 28))
    assert m["offhours_target_met"] == 0.0
    assert res.savings_usd_micros == 13_581_000
    assert res.risk["pods_evicted"] == 0  # stopped on schedule, not evicted
    text = "; ".join(res.assumptions)
    assert "c1=America/New_York" in text
    assert "28.0 recorded -> 14.5 simulated = 48.2% (goal >= 50%: not met)" in text
    assert "notebook 0%" in text
    # keeping notebooks all night: nothing is idle, nothing changes
    keep = Schedule(ScheduleSettings(offhours_demand_ratio={})).run(inputs)
    assert keep.metrics["offhours_reduction_pct"] == pytest.approx(0.0)
    assert keep.savings_usd_micros == 0


def test_combined_does_not_count_rightsize_shrinkage_as_evictions(fresh_db):
    # A p4d (8 GPUs) runs a 4-GPU trainer (no memory samples: stays) and llm-7b pods, 1 GPU each,
    # 0-10 h and 5-10 h, 12 GiB used: rightsize moves llm-7b to g5.xlarge. The p4d group then
    # keeps 1 - 1/8 node for 0-5 h and 1 - 2/8 for 5-10 h (request-based). That 1/8 step down at
    # 5 h is demand leaving, not consolidation. Counted as a removal of a busy node it would have
    # "evicted" 1/8 node x 2 pods / 0.75 node = 1/3 pod (rightsize leaves pods in proportion to
    # GPUs: 3 pods x 4/6 GPUs = 2 at 5 h). Consolidation keeps everything here
    # (the trainer needs the p4d; each g5 holds its pod), so it evicts nobody.
    add_price(fresh_db, "p4d.24xlarge", 21_957_642)
    add_price(fresh_db, "g5.xlarge", G5)
    add_node(fresh_db, "p1", 0, 10, itype="p4d.24xlarge", gpus=8, gpu_model="A100", mem=40960)
    add_pod(fresh_db, "trainer-abc12", "p1", 0, 10, ns="research", gpus=4, kind="training")
    for pod, start in (("llm-7b-abc12", 0), ("llm-7b-def34", 5)):
        add_pod(fresh_db, pod, "p1", start, 10)
        add_memory(fresh_db, pod, "p1", "serving", [12288] * 30, start_h=start)
    inputs = load_inputs(fresh_db)
    resized = Rightsize().run(inputs)
    assert resized.risk["workloads_moved"] == 1
    fleet = resized.fleet
    p4d = [g.instance_type for g in fleet.groups].index("p4d.24xlarge")
    assert fleet.nodes[p4d, 0] == pytest.approx(0.875)
    assert fleet.nodes[p4d, -1] == pytest.approx(0.75)
    # what the old count (every drop of an occupied node) made of it
    _, phantom = removals_and_evictions(fleet.nodes, fleet.occupied, fleet.pods)
    assert phantom == pytest.approx(0.125 * 2 / 0.75)
    results = {r.strategy: r for r in runner.simulate(inputs, "all")}
    assert results["consolidation"].risk["pods_evicted"] == 0
    assert results["all"].risk["consolidation.pods_evicted"] == 0
    assert results["all"].risk["schedule.pods_evicted"] == 0


def test_the_registry_is_the_only_strategy_list(tmp_path):
    # the chain, the CLI's choices and the recommendations' risk all come from @register
    assert chain() == ["rightsize", "consolidation", "schedule", "spot"]
    assert [s.name for s in get_strategy("all")().steps()] == chain()
    assert strategy_names() == [*chain(), "all"]
    assert {n: STRATEGIES[n].risk for n in chain()} == {
        "rightsize": "low",
        "consolidation": "medium",
        "schedule": "medium",
        "spot": "high",
    }
    db = tmp_path / "x.duckdb"
    store.connect(db).close()
    with pytest.raises(SystemExit) as exc:
        main(["--db", str(db), "simulate", "--strategy", "hibernate"])
    assert exc.value.code == 2
