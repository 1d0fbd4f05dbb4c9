"""The demo fleet: deterministic for a seed, realistic against the public traces, conserved."""

from __future__ import annotations

import gzip
from importlib import resources

import duckdb
import numpy as np
import polars as pl
import pytest

from costlab import store
from costlab.allocate.gpu import allocate_window
from costlab.demo import profiles as P
from costlab.demo.run import load_demo


def _fingerprint(seed: int) -> tuple:
    conn = store.connect(":memory:")
    window = load_demo(conn, days=1, seed=seed)
    run = allocate_window(conn, window, window.end)
    counts = tuple(
        conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
        for t in ("gpu_samples", "nodes", "pod_gpu_requests", "llm_observations", "prices")
    )
    nodes = conn.execute("SELECT * EXCLUDE (node) FROM nodes ORDER BY ALL").fetchall()
    tokens = conn.execute("SELECT sum(total_tokens) FROM llm_observations").fetchone()[0]
    conn.close()
    return run.total_node_cost_usd_micros, counts, nodes, tokens


def test_same_seed_same_fleet_same_dollars():
    first, second = _fingerprint(11), _fingerprint(11)
    assert first == second
    assert first[0] > 0


def test_other_seed_other_fleet():
    assert _fingerprint(11)[0] != _fingerprint(12)[0]


@pytest.fixture(scope="module")
def demo(demo_db):
    conn = duckdb.connect(str(demo_db), read_only=True)
    yield conn
    conn.close()


def test_demo_is_loaded_cleanly_and_conserved(demo):
    assert demo.execute("SELECT count(*) FROM quarantine").fetchone()[0] == 0
    assert demo.execute("SELECT status FROM collection_runs").fetchall() == [("ok",)]
    total, allocated = demo.execute(
        "SELECT total_node_cost_usd_micros, allocated_usd_micros FROM allocation_runs"
    ).fetchone()
    assert (
        total
        == allocated
        == demo.execute("SELECT sum(gpu_cost_usd_micros) FROM allocation").fetchone()[0]
    )
    assert demo.execute("SELECT sum(node_hours) FROM unpriced_node_hours").fetchone()[0] is None


def test_demo_fleet_shape(demo):
    clusters = {r[0] for r in demo.execute("SELECT DISTINCT cluster FROM nodes").fetchall()}
    assert clusters == {"prod-use1", "prod-usw2", "train-use1"}
    teams = {r[0] for r in demo.execute("SELECT DISTINCT team FROM allocation").fetchall()}
    assert len(teams - {"__idle__"}) >= 6
    # the namespace without a team label is its own team; every demo row has a namespace
    assert "__idle__" in teams and "sandbox" in teams and "__unallocated__" not in teams
    types = {r[0] for r in demo.execute("SELECT DISTINCT instance_type FROM nodes").fetchall()}
    assert {
        "g5.xlarge",
        "g5.12xlarge",
        "g5.48xlarge",
        "p4d.24xlarge",
        "p5.48xlarge",
        "p5en.48xlarge",
    } <= types
    # fine-tuning jobs: 4 nodes x 8 GPUs for hours
    jobs = demo.execute(
        "SELECT l.value, count(*), min(r.quantity) FROM pod_gpu_requests r JOIN pod_labels l "
        "ON l.pod = r.pod AND l.key = 'job_name' WHERE r.namespace = 'ml-research' GROUP BY 1"
    ).fetchall()
    assert jobs and all(n == 4 and q == 8 for _, n, q in jobs)
    mig = demo.execute(
        "SELECT count(DISTINCT mig_instance_id) FROM gpu_samples WHERE mig_profile = '1g.10gb'"
    ).fetchone()
    assert mig[0] == 7


def test_demo_prices_are_the_shipped_karpenter_table(demo):
    # costlab/data/ec2_ondemand_prices_us_east_1.csv is Karpenter's generated price table
    # (Apache-2.0, costlab/data/NOTICE.md), copied by scripts/derive_demo_data.py.
    with resources.files("costlab.data").joinpath("ec2_ondemand_prices_us_east_1.csv").open() as fh:
        shipped = pl.read_csv(fh, infer_schema_length=0)
    expected = {
        r[0]: round(float(r[1]) * 1e6)
        for r in shipped.select("instance_type", "ondemand_usd_per_hour").iter_rows()
    }
    assert expected["p5en.48xlarge"] == 63_296_000  # as in AWS's us-east-1 price list
    rows = demo.execute(
        "SELECT instance_type, usd_micros_per_hour FROM prices WHERE capacity_type = 'on-demand' AND region = 'us-east-1'"
    ).fetchall()
    assert rows and all(expected[t] == p for t, p in rows)


# Spot price / on-demand price over the 125 rows with both prices in SkyPilot's AWS catalog
# (skypilot-org/skypilot-catalog, catalogs/v8/aws/vms.csv at 00148f2af367, g4dn.12xlarge,
# g4dn.16xlarge, p5en, p5e, p6-b200, p6-b300 across 22 regions): min 0.10, max 1.00. For
# p5en.48xlarge in us-east-1 (3 AZs: 16.5551, 17.2074, 18.2492 of 63.296 $/h): 0.2616-0.2883.
# The catalog states no licence, so only these figures are kept, not the file.
SKYPILOT_SPOT_RATIO_BAND = (0.10, 1.00)
SKYPILOT_P5EN_US_EAST_1_SPOT_RATIO_BAND = (0.2615, 0.2884)


def test_demo_spot_discounts_sit_in_the_observed_band():
    lo, hi = SKYPILOT_P5EN_US_EAST_1_SPOT_RATIO_BAND
    assert lo <= P.SPOT_PRICE_RATIO["p5en"] <= hi
    lo, hi = SKYPILOT_SPOT_RATIO_BAND
    for family, r in P.SPOT_PRICE_RATIO.items():
        assert lo <= r <= hi, family


def test_demo_tokens_are_real_requests(demo):
    # costlab/data/llm_request_tokens.csv.gz holds every request of the Azure LLM inference trace
    # 2023 (CC-BY-4.0) and the Mooncake conversation trace (Apache-2.0), see costlab/data/NOTICE.md.
    with resources.files("costlab.data").joinpath("llm_request_tokens.csv.gz").open("rb") as raw:
        with gzip.open(raw) as fh:
            tokens = pl.read_csv(fh)

    def pairs(trace: str) -> set[tuple[int, int]]:
        rows = tokens.filter(pl.col("trace") == trace)
        return set(zip(rows["input_tokens"], rows["output_tokens"], strict=True))

    conv, moon = pairs("azure-conv"), pairs("mooncake")
    assert len(conv) > 10_000 and len(moon) > 10_000
    sample = demo.execute(
        "SELECT input_tokens, output_tokens FROM llm_observations WHERE deployment = 'chat-llama70b' LIMIT 500"
    ).fetchall()
    assert sample and all(pair in conv for pair in sample)
    long_ctx = demo.execute(
        "SELECT input_tokens, output_tokens FROM llm_observations WHERE deployment = 'docqa-70b-long' LIMIT 500"
    ).fetchall()
    assert long_ctx and all(pair in moon for pair in long_ctx)


# Mean QPS by hour of day (timestamp_anon % 86400 // 3600, all request types), divided by the
# largest hourly mean, of Alibaba's GenAI serving trace (alibaba/clusterdata,
# cluster-trace-v2026-GenAI/qps.csv, 24,627 rows over 0.93 day; Lin et al., SoCC 2025). Hour 0
# has no sample (0.0). The trace is for research use only, so only these 24 figures are kept.
ALIBABA_GENAI_QPS_BY_HOUR = (
    0.00, 0.86, 0.70, 0.65, 0.66, 0.77, 0.66, 0.65, 0.63, 0.65, 0.67, 0.82,
    0.85, 0.86, 0.85, 0.85, 0.86, 0.92, 1.00, 0.84, 0.89, 0.51, 0.43, 0.48,
)  # fmt: skip


def test_demo_diurnal_shape_follows_a_real_serving_trace():
    real = np.array(ALIBABA_GENAI_QPS_BY_HOUR)
    demo_curve = np.array(P.DIURNAL_LOAD)
    # the trace's timestamps are shifted by an unknown offset: compare at the best alignment
    best = max(np.corrcoef(np.roll(real, s), demo_curve)[0, 1] for s in range(24))
    assert best > 0.5
    assert demo_curve.min() / demo_curve.max() < 0.3  # nights are quiet


def test_demo_has_idle_gpus_at_night_and_lunch(demo):
    # requested-but-unused GPU time of inference pods: higher at night than in the afternoon (New York)
    rows = dict(
        demo.execute(
            "SELECT hour(window_start_ts AT TIME ZONE 'America/New_York') AS h, "
            "1 - sum(gpu_hours_used) / sum(gpu_hours) FROM allocation "
            "WHERE cluster = 'prod-use1' AND pod <> '__idle__' AND gpu_hours_used IS NOT NULL GROUP BY h"
        ).fetchall()
    )
    assert rows[3] > rows[15] + 0.2
