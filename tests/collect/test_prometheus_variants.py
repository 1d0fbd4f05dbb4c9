"""The same fleet scraped the ways real installs scrape it (tests/collect/prom_variants.py), collected
from a real Prometheus with default settings: every variant allocates to the same hand-computed
dollars."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import duckdb
import pytest
from prom_server import PromServer, build_blocks, write_openmetrics
from prom_snapshot import settings
from prom_variants import HOUR, T0, VARIANTS, fleet, variant_name

from costlab import store
from costlab.allocate.gpu import allocate_window
from costlab.allocate.report import report_by
from costlab.allocate.settings import AllocateSettings
from costlab.collect.prometheus import collect
from costlab.timeutil import Window

WINDOW = Window(T0, T0 + 2 * HOUR)

# Hand computation (request mode, all node cost split by GPU time):
# node-k g5.12xlarge $4.00/h x 1 h = $4.00 over 4 GPU-hours, $1.00 per GPU-hour:
#   llm/vllm-0    2 GPUs x 1 h   = 2 GPU-h -> $2.00
#   search/embed-0 1 GPU x 0.5 h = 0.5 GPU-h -> $0.50
#   idle          4 - 2.5        = 1.5 GPU-h -> $1.50
# node-m g5.xlarge $1.00/h x 1 h = $1.00, search/rank-0 1 GPU x 1 h -> $1.00, only when its
#   instance type is known (kube_node_labels, i.e. with the label allowlist); without it the node
#   is unpriced (1 node-hour) with a node-without-karpenter-labels notice.
# Teams: with the allowlist vllm-0's pod label team=ml, namespace search's label team=discovery;
#   without it every team is its namespace.
pytestmark = pytest.mark.service

BY_NAMESPACE = {
    True: {"llm": 2_000_000, "search": 1_500_000, "__idle__": 1_500_000},
    False: {"llm": 2_000_000, "search": 500_000, "__idle__": 1_500_000},
}
BY_TEAM = {
    True: {"ml": 2_000_000, "discovery": 1_500_000, "__idle__": 1_500_000},
    False: {"llm": 2_000_000, "search": 500_000, "__idle__": 1_500_000},
}
BUSY = {
    ("node-k", "GPU-k0", "llm", "vllm-0", "vllm"),
    ("node-k", "GPU-k1", "llm", "vllm-0", "vllm"),
    ("node-k", "GPU-k2", "search", "embed-0", "embed"),
    ("node-m", "GPU-m0", "search", "rank-0", "rank"),
}
IDS = [variant_name(*v) for v in VARIANTS]


# Prometheus' own default scrape_interval is 1 m, Prometheus Operator's 30 s, many jobs 15 s: the
# collector's defaults (step detected from the samples) must give the same dollars at each.
@pytest.fixture(scope="module", params=[15, 30, 60], ids=lambda s: f"scrape-{s}s")
def collected(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[duckdb.DuckDBPyConnection]:
    interval = timedelta(seconds=request.param)
    root = tmp_path_factory.mktemp("prom-variants")
    write_openmetrics(root / "variants.om", fleet(interval), {})
    build_blocks(root / "variants.om", root / "data")
    conn = store.connect(":memory:")
    with PromServer(root / "data") as server:
        collect(conn, window=WINDOW, settings=settings(server.url))
    yield conn
    conn.close()


def _costs(conn, by: str, cluster: str, mode: str = "request") -> dict[str, int]:
    allocate_window(conn, WINDOW, WINDOW.end, AllocateSettings(mode=mode))
    rows = report_by(conn, WINDOW, by=by, clusters=[cluster])
    return {r.tenant: r.cost_usd_micros for r in rows}


@pytest.mark.parametrize(("honor", "allowlist", "host"), VARIANTS, ids=IDS)
def test_every_variant_allocates_the_same_dollars(collected, honor, allowlist, host):
    cluster = variant_name(honor, allowlist, host)
    assert _costs(collected, "namespace", cluster) == BY_NAMESPACE[allowlist]
    assert _costs(collected, "team", cluster) == BY_TEAM[allowlist]
    # usage mode: use (80 % of each requested GPU) stays under the requests; the exporter's own
    # pod is never a tenant
    assert _costs(collected, "namespace", cluster, mode="usage") == BY_NAMESPACE[allowlist]


@pytest.mark.parametrize(("honor", "allowlist", "host"), VARIANTS, ids=IDS)
def test_every_variant_finds_both_nodes(collected, honor, allowlist, host):
    cluster = variant_name(honor, allowlist, host)
    nodes = collected.execute(
        "SELECT node, start_ts, end_ts, nodepool, instance_type, capacity_type, region, zone, "
        "gpu_count, gpu_model FROM nodes WHERE cluster = ? ORDER BY node",
        [cluster],
    ).fetchall()
    end = T0 + HOUR
    node_m = ("ng-a10g", "g5.xlarge", "on-demand") if allowlist else (None, "unknown", "unknown")
    assert nodes == [
        ("node-k", T0, end, "gpu", "g5.12xlarge", "on-demand", "us-east-1", "us-east-1a", 4, "A10G"),
        ("node-m", T0, end, *node_m, "us-east-1", "us-east-1b", 1, "A10G"),
    ]  # fmt: skip
    gaps = collected.execute(
        "SELECT kind, series FROM collection_gaps WHERE series LIKE ? ORDER BY ALL",
        [f'%cluster="{cluster}"%'],
    ).fetchall()
    notice = ("node-without-karpenter-labels", f'kube_node_labels{{cluster="{cluster}",node="node-m"}}')  # fmt: skip
    assert gaps == ([] if allowlist else [notice])
    allocate_window(collected, WINDOW, WINDOW.end)
    unpriced = collected.execute(
        "SELECT coalesce(sum(node_hours), 0) FROM unpriced_node_hours WHERE cluster = ?", [cluster]
    ).fetchall()
    assert unpriced == [(0.0 if allowlist else 1.0,)]


@pytest.mark.parametrize(("honor", "allowlist", "host"), VARIANTS, ids=IDS)
def test_gpu_samples_name_the_workload_not_the_exporter(collected, honor, allowlist, host):
    cluster = variant_name(honor, allowlist, host)
    got = set(
        collected.execute(
            "SELECT DISTINCT node, gpu_uuid, namespace, pod, container FROM gpu_samples "
            "WHERE cluster = ?",
            [cluster],
        ).fetchall()
    )
    assert BUSY <= got
    if not honor:
        # idle GPUs carry only the exporter's target labels: recognised next to exported_pod
        assert got - BUSY == {
            ("node-k", "GPU-k2", None, None, None),
            ("node-k", "GPU-k3", None, None, None),
        }
    namespaces = {
        r[0]
        for r in collected.execute(
            "SELECT DISTINCT namespace FROM allocation WHERE cluster = ?", [cluster]
        ).fetchall()
    }
    assert namespaces == set(BY_NAMESPACE[allowlist])
