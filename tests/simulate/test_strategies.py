"""Hand-checked scenarios for each strategy, on tiny fleets (see fleet_fixtures.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from costlab.simulate import runner
from costlab.simulate.base import STRATEGIES, UnknownStrategyError, get_strategy
from costlab.simulate.budgets import Budget
from costlab.simulate.consolidation import Consolidation, ConsolidationSettings
from costlab.simulate.inputs import load_inputs
from costlab.simulate.rightsize import Rightsize
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
    singles = sum(results[n].savings_usd_micros for n in runner.SINGLES)
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
