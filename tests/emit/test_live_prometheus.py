"""A real Prometheus scrapes `costlab exporter` and evaluates the generated recording rules.

Everything listens on 127.0.0.1 only:
- `costlab exporter` started through the CLI (its own process) on the fixture database;
- a stand-in for Karpenter and kube-state-metrics: a prometheus-client endpoint serving the
  node and pod series with the real names and labels (no cluster runs here);
- /usr/bin/prometheus scraping both every 1s with the rules generated for price_source=exporter
  at a 1s evaluation interval.
Expected (hand-checked): gpu-a p4d.24xlarge on-demand us-east-1a has only a region-wide price,
manual $18.00 (beats pricing-api $21.96); gpu-b g5.12xlarge spot us-east-1b has a zonal
spot-history price $1.9876. Cluster: $19.9876/h. Namespace ml-research requests 4 of gpu-a's 8
GPUs: 4 x $2.25 = $9.00/h.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
import yaml
from prometheus_client import CollectorRegistry, start_http_server
from prometheus_client.core import GaugeMetricFamily

from costlab.emit import prometheus_rules as pr
from costlab.emit.rules_thresholds import CostThreshold
from tests.emit.rules_fixtures import fixture_settings
from tests.emit.test_exporter import free_port

pytestmark = pytest.mark.service

NODES = [
    # node_name, nodepool, capacity_type, instance_type, zone, gpus, requested
    ("gpu-a", "gpu-od", "on-demand", "p4d.24xlarge", "us-east-1a", 8, 4),
    ("gpu-b", "gpu-spot", "spot", "g5.12xlarge", "us-east-1b", 4, 0),
]


class ClusterStandIn:
    """Karpenter node gauges and kube-state-metrics pod series, as a scrape target."""

    def collect(self):
        labels = [
            "node_name",
            "nodepool",
            "capacity_type",
            "instance_type",
            "zone",
            "region",
            "resource_type",
        ]
        alloc = GaugeMetricFamily("karpenter_nodes_allocatable", "Node allocatable", labels=labels)
        req = GaugeMetricFamily(
            "karpenter_nodes_total_pod_requests", "Node total pod requests", labels=labels
        )
        for node, pool, ct, it, zone, gpus, requested in NODES:
            values = [node, pool, ct, it, zone, "us-east-1"]
            alloc.add_metric([*values, "nvidia_com_gpu"], gpus)
            alloc.add_metric([*values, "cpu"], 95)
            if requested:
                req.add_metric([*values, "nvidia_com_gpu"], requested)
        pod_labels = ["namespace", "pod", "container", "node", "resource", "unit", "uid"]
        requests_family = GaugeMetricFamily(
            "kube_pod_container_resource_requests", "Requested resources", labels=pod_labels
        )
        requests_family.add_metric(
            ["ml-research", "train-0", "main", "gpu-a", "nvidia_com_gpu", "integer", "u1"], 4
        )
        phase = GaugeMetricFamily(
            "kube_pod_status_phase", "Pod phase", labels=["namespace", "pod", "uid", "phase"]
        )
        phase.add_metric(["ml-research", "train-0", "u1", "Running"], 1)
        namespaces = GaugeMetricFamily(
            "kube_namespace_labels", "Namespace labels", labels=["namespace", "label_team"]
        )
        namespaces.add_metric(["ml-research", "research"], 1)
        return [alloc, req, requests_family, phase, namespaces]


def wait_for(url: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if requests.get(url, timeout=2).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.3)
    pytest.fail(f"{url} did not come up within {timeout}s")


def query(base: str, promql: str) -> list[dict]:
    response = requests.get(f"{base}/api/v1/query", params={"query": promql}, timeout=5)
    response.raise_for_status()
    return response.json()["data"]["result"]


def poll(base: str, promql: str, timeout: float = 90) -> list[dict]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = query(base, promql)
        if result:
            return result
        time.sleep(0.5)
    pytest.fail(f"{promql} returned nothing within {timeout}s")


@pytest.fixture
def stand_in_port():
    registry = CollectorRegistry(auto_describe=False)
    registry.register(ClusterStandIn())
    port = free_port()
    server, thread = start_http_server(port, addr="127.0.0.1", registry=registry)
    yield port
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


@pytest.fixture
def exporter_port(cost_db: Path, tmp_path: Path):
    port = free_port()
    env = {**os.environ, "COSTLAB_EXPORTER_HOST": "127.0.0.1"}
    log = (tmp_path / "exporter.log").open("w")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "costlab.cli",
            "--db",
            str(cost_db),
            "exporter",
            "--port",
            str(port),
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        env=env,
    )
    try:
        wait_for(f"http://127.0.0.1:{port}/metrics")
        yield port
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        log.close()


def test_prometheus_scrapes_exporter_and_records_dollars(
    prometheus_bin, exporter_port, stand_in_port, tmp_path
):
    settings = fixture_settings(price_source="exporter", evaluation_interval="1s")
    rules = tmp_path / "costlab.rules.yaml"
    rules.write_text(pr.to_yaml(pr.rules_file(settings, CostThreshold(None, "not needed here"))))
    config = {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "rule_files": [str(rules)],
        "scrape_configs": [
            {
                "job_name": "costlab",
                "static_configs": [{"targets": [f"127.0.0.1:{exporter_port}"]}],
            },
            {
                "job_name": "karpenter",
                "static_configs": [
                    {"targets": [f"127.0.0.1:{stand_in_port}"], "labels": {"cluster": "prod"}}
                ],
            },
        ],
    }
    (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(config))
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log = (tmp_path / "prometheus.log").open("w")
    proc = subprocess.Popen(
        [
            prometheus_bin,
            f"--config.file={tmp_path / 'prometheus.yml'}",
            f"--storage.tsdb.path={tmp_path / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        wait_for(f"{base}/-/ready")
        prices = poll(base, 'costlab_instance_hourly_cost_usd{instance_type="p4d.24xlarge"}')
        assert float(prices[0]["value"][1]) == 18.0
        (cluster,) = poll(base, "cluster:costlab_cost_usd_per_hour:sum")
        assert cluster["metric"]["cluster"] == "prod"
        assert float(cluster["value"][1]) == pytest.approx(19.9876, abs=1e-9)
        nodes = poll(base, "node:costlab_cost_usd_per_hour:sum")
        by_node = {n["metric"]["node_name"]: float(n["value"][1]) for n in nodes}
        assert by_node == pytest.approx({"gpu-a": 18.0, "gpu-b": 1.9876})
        (namespace,) = poll(
            base, 'namespace:costlab_cost_usd_per_hour:sum{namespace="ml-research"}'
        )
        assert float(namespace["value"][1]) == pytest.approx(9.0)
        (tenant,) = poll(base, "tenant:costlab_cost_usd_per_hour:sum")
        assert tenant["metric"]["tenant"] == "research"
        assert float(tenant["value"][1]) == pytest.approx(9.0)
    finally:
        proc.terminate()
        proc.wait(timeout=20)
        log.close()
