"""Worked examples of docs/allocation.md, each checked by hand to the micro-dollar.

Prices are manual overrides with round numbers so every figure can be checked mentally.
"""

from __future__ import annotations

import pytest
from allocate_fixtures import at, dcgm, node, observation, pod, price, team

from costlab.allocate.gpu import allocate_window
from costlab.allocate.report import report_by, team_fallback
from costlab.allocate.settings import AllocateSettings
from costlab.allocate.tokens import token_cost_by, token_rates
from costlab.timeutil import Window


def costs(conn, window, by="namespace", idle="separate", settings=None, horizon=None):
    allocate_window(conn, window, horizon or window.end, settings)
    return {r.tenant: r.cost_usd_micros for r in report_by(conn, window, by=by, idle=idle)}


def test_mig_slices_pay_by_slice_size(fresh_db):
    # p4de.24xlarge at $56/h: $7 per GPU-hour, a 1g.10gb slice (1/7 GPU) is $1 per hour.
    price(fresh_db, "p4de.24xlarge", 56)
    node(fresh_db, "n1", "p4de.24xlarge", 8, 0, 2)
    pod(
        fresh_db, "a", "a-0", "n1", 0, 2, 3, resource="nvidia.com/mig-1g.10gb"
    )  # 3 slices x 2 h = $6
    pod(
        fresh_db, "b", "b-0", "n1", 0, 1, 1, resource="nvidia.com/mig-1g.10gb"
    )  # 1 slice x 1 h = $1
    assert costs(fresh_db, Window(at(0), at(2))) == {
        "__idle__": 105_000_000,
        "a": 6_000_000,
        "b": 1_000_000,
    }


def test_time_sliced_gpu_splits_by_replica_share(fresh_db):
    # g5.xlarge, one GPU, $4/h, 4 time-slicing replicas: each shared unit is 1/4 GPU = $1 per hour.
    price(fresh_db, "g5.xlarge", 4)
    node(fresh_db, "n1", "g5.xlarge", 1, 0, 1, gpu_model="A10G")
    for i in range(3):
        pod(fresh_db, f"ns{i}", f"p{i}", "n1", 0, 1, 1, resource="nvidia.com/gpu.shared")
    assert costs(fresh_db, Window(at(0), at(1))) == {
        "__idle__": 1_000_000,
        "ns0": 1_000_000,
        "ns1": 1_000_000,
        "ns2": 1_000_000,
    }
    # with 2 replicas each unit is half a GPU: three pods ask for 1.5 GPUs of 1, scaled to fit
    split = costs(
        fresh_db, Window(at(0), at(1)), settings=AllocateSettings(time_slicing_replicas=2)
    )
    assert split == {"ns0": 1_333_334, "ns1": 1_333_333, "ns2": 1_333_333}


def test_spot_price_change_mid_life_is_honoured(fresh_db):
    # spot g5.12xlarge in us-east-1a: $2/h, then $4/h from 01:30. Node 00:00-03:00 costs
    # 1.5 h x $2 + 1.5 h x $4 = $9. The pod holding all 4 GPUs 01:00-02:00 pays $1 + $2 = $3.
    price(fresh_db, "g5.12xlarge", 2, capacity="spot", zone="us-east-1a", source="spot-history")
    price(
        fresh_db,
        "g5.12xlarge",
        4,
        capacity="spot",
        zone="us-east-1a",
        source="spot-history",
        since=1.5,
    )
    price(
        fresh_db, "g5.12xlarge", 5.672, capacity="on-demand", source="snapshot"
    )  # not this node's price
    node(fresh_db, "n1", "g5.12xlarge", 4, 0, 3, capacity="spot", gpu_model="A10G")
    pod(fresh_db, "a", "a-0", "n1", 1, 2, 4)
    run = allocate_window(fresh_db, Window(at(0), at(3)), at(3))
    assert run.total_node_cost_usd_micros == 9_000_000
    assert costs(fresh_db, Window(at(0), at(3))) == {"a": 3_000_000, "__idle__": 6_000_000}


def test_manual_override_wins_over_list_prices(fresh_db):
    price(fresh_db, "p4d.24xlarge", 21.957642, source="snapshot")
    price(fresh_db, "p4d.24xlarge", 16.0, source="manual", since=1)  # negotiated rate from 01:00
    node(fresh_db, "n1", "p4d.24xlarge", 8, 0, 2)
    assert (
        allocate_window(fresh_db, Window(at(0), at(2)), at(2)).total_node_cost_usd_micros
        == 37_957_642
    )


def test_node_living_past_the_window_is_clipped(fresh_db):
    price(fresh_db, "g5.48xlarge", 8)
    node(fresh_db, "n1", "g5.48xlarge", 8, 1, 5, gpu_model="A10G")
    assert costs(fresh_db, Window(at(0), at(2))) == {"__idle__": 8_000_000}
    # a node still running (no end) is charged up to the data horizon, not beyond
    node(fresh_db, "n2", "g5.48xlarge", 8, 0, None, gpu_model="A10G")
    run = allocate_window(fresh_db, Window(at(0), at(6)), horizon=at(3))
    assert run.total_node_cost_usd_micros == (4 + 3) * 8_000_000


def test_pod_without_team_label_is_its_namespace_unless_mapped(fresh_db, tmp_path):
    price(fresh_db, "g5.12xlarge", 16)
    node(fresh_db, "n1", "g5.12xlarge", 4, 0, 1, gpu_model="A10G")
    team(fresh_db, "search", "search-team")
    pod(fresh_db, "search", "s-0", "n1", 0, 1, 1)
    pod(fresh_db, "sandbox", "x-0", "n1", 0, 1, 1)
    pod(fresh_db, "ml", "m-0", "n1", 0, 1, 1, labels={"team": "research"})  # pod label wins
    window = Window(at(0), at(1))
    # no label, no team map: the namespace is the team (kube-state-metrics without a label
    # allowlist exports no labels), and the allocate output says so
    assert costs(fresh_db, window, by="team") == {
        "search-team": 4_000_000,
        "sandbox": 4_000_000,
        "research": 4_000_000,
        "__idle__": 4_000_000,
    }
    assert team_fallback(fresh_db, window) == (1, 4_000_000)
    mapping = tmp_path / "teams.csv"
    mapping.write_text("namespace,team\nsandbox,platform\n")
    mapped = costs(fresh_db, window, by="team", settings=AllocateSettings(team_map=mapping))
    assert mapped["platform"] == 4_000_000 and "sandbox" not in mapped
    assert team_fallback(fresh_db, window, ["sandbox"]) == (0, 0)


def test_usage_mode_charges_max_of_requested_and_used(fresh_db):
    # g5.12xlarge $16/h = $4 per GPU-hour. Pod a requests 1 GPU and uses it fully; pod b requests
    # nothing but DCGM sees it at 50 % on another GPU for the hour (0.5 GPU-hours used).
    price(fresh_db, "g5.12xlarge", 16)
    node(fresh_db, "n1", "g5.12xlarge", 4, 0, 1, gpu_model="A10G")
    pod(fresh_db, "a", "a-0", "n1", 0, 1, 1)
    dcgm(fresh_db, "n1", 0, 0, 1, 100, namespace="a", pod_name="a-0")
    dcgm(fresh_db, "n1", 1, 0, 1, 50, namespace="b", pod_name="b-0")
    window = Window(at(0), at(1))
    assert costs(fresh_db, window) == {"a": 4_000_000, "__idle__": 12_000_000}
    assert costs(fresh_db, window, settings=AllocateSettings(mode="usage")) == {
        "a": 4_000_000,
        "b": 2_000_000,
        "__idle__": 10_000_000,
    }
    used = {r.tenant: r.gpu_hours_used for r in report_by(fresh_db, window, by="namespace")}
    assert used == {"a": 1.0, "b": 0.5, "__idle__": None}


def test_gpu_cost_share_splits_cpu_ram_with_the_same_weights(fresh_db):
    price(fresh_db, "g5.12xlarge", 16)
    node(fresh_db, "n1", "g5.12xlarge", 4, 0, 1, gpu_model="A10G")
    pod(fresh_db, "a", "a-0", "n1", 0, 1, 2)
    allocate_window(fresh_db, Window(at(0), at(1)), at(1), AllocateSettings(gpu_cost_share=0.75))
    rows = dict(
        (
            (ns, (gpu, other))
            for ns, gpu, other in fresh_db.execute(
                "SELECT namespace, gpu_cost_usd_micros, other_cost_usd_micros FROM allocation"
            ).fetchall()
        )
    )
    # gpu_cost is the whole charge; other_cost is its CPU/RAM part
    assert rows == {"a": (8_000_000, 2_000_000), "__idle__": (8_000_000, 2_000_000)}


def test_idle_shared_by_nodepool_scope(fresh_db):
    price(fresh_db, "g5.xlarge", 1)
    node(fresh_db, "n1", "g5.xlarge", 1, 0, 1, nodepool="p1", gpu_model="A10G")
    node(fresh_db, "n2", "g5.xlarge", 1, 0, 1, nodepool="p2", gpu_model="A10G")
    pod(fresh_db, "a", "a-0", "n1", 0, 0.5, 1)  # p1: a $0.50, idle $0.50
    pod(fresh_db, "b", "b-0", "n2", 0, 0.25, 1)  # p2: b $0.25, idle $0.75
    window = Window(at(0), at(1))
    allocate_window(fresh_db, window, at(1))
    by_cluster = {
        r.tenant: r.cost_usd_micros
        for r in report_by(fresh_db, window, by="namespace", idle="share")
    }
    # cluster scope: idle $1.25 shared 2:1 between a and b
    assert by_cluster == {"a": 1_333_333, "b": 666_667}
    by_pool = {
        r.tenant: r.cost_usd_micros
        for r in report_by(fresh_db, window, by="namespace", idle="share", scope="nodepool")
    }
    assert by_pool == {"a": 1_000_000, "b": 1_000_000}


def test_a100_equivalent_gpu_hours(fresh_db):
    price(fresh_db, "p5.48xlarge", 80)
    node(fresh_db, "n1", "p5.48xlarge", 8, 0, 1, gpu_model="H100")
    pod(fresh_db, "a", "a-0", "n1", 0, 1, 8)
    allocate_window(fresh_db, Window(at(0), at(1)), at(1))
    row = report_by(fresh_db, Window(at(0), at(1)), by="namespace")[0]
    assert row.gpu_hours == 8.0
    assert row.a100_equiv_gpu_hours == pytest.approx(8 * 989 / 312, rel=1e-4)


def test_tokens_per_model_with_weights(fresh_db):
    # the model's pods cost $16; 1M input + 0.25M output tokens, weights 1:4 -> 2M weighted tokens
    # -> $8 per 1M input, $32 per 1M output, $12.80 per 1M tokens blended.
    price(fresh_db, "g5.12xlarge", 16)
    node(fresh_db, "n1", "g5.12xlarge", 4, 0, 1, gpu_model="A10G")
    pod(fresh_db, "chat", "llm-0", "n1", 0, 1, 4, labels={"model": "m"})
    observation(
        fresh_db, "o1", "m", 0.2, 600_000, 50_000, user="u1", tenant="t1", list_cost_micros=650_000
    )
    observation(
        fresh_db, "o2", "m", 0.7, 400_000, 200_000, user="u2", tenant="t2", list_cost_micros=600_000
    )
    window = Window(at(0), at(1))
    allocate_window(fresh_db, window, at(1))
    (rate,) = token_rates(fresh_db, window)
    assert rate.gpu_cost_usd_micros == 16_000_000
    assert (rate.usd_per_1m_input, rate.usd_per_1m_output) == pytest.approx((8.0, 32.0))
    assert rate.usd_per_1m_tokens == pytest.approx(12.8)
    assert rate.list_usd_per_1m_tokens == pytest.approx(1.0)
    per_user = {r[0]: round(r[4], 6) for r in token_cost_by(fresh_db, window, "user")}
    assert per_user == {"u2": 9.6, "u1": 6.4}  # 1.2M and 0.8M weighted tokens at $8 per 1M
