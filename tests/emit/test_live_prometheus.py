"""A real Prometheus scrapes `costlab exporter` and evaluates the generated recording rules.

Everything listens on 127.0.0.1 only:
- `costlab exporter` started through the CLI (its own process) on the fixture database;
- stand-ins for Karpenter + kube-state-metrics and for dcgm-exporter: prometheus-client endpoints
  serving series with the upstream names and label sets (no cluster runs here):
  * Karpenter v1.14, AWS provider: karpenter_nodes_allocatable / _total_pod_requests with
    node_name, phase="" (client_golang writes every declared label; Prometheus drops empty ones),
    managed, resource_type="nvidia.com/gpu" (lower-cased, "-" -> "_", dots and slash kept) and the
    well-known node labels (kubernetes-sigs/karpenter pkg/controllers/metrics/node/controller.go,
    aws/karpenter-provider-aws pkg/apis/v1/labels.go);
  * kube-state-metrics v2.x: kube_pod_container_resource_requests{namespace,pod,uid,container,
    node,resource="nvidia_com_gpu",unit="integer"}, five kube_pod_status_phase series per pod,
    kube_namespace_labels{namespace,label_team} (kubernetes/kube-state-metrics internal/store/
    pod.go, namespace.go, utils.go SanitizeLabelName);
  * dcgm-exporter 4.x: DCGM_FI_DEV_GPU_UTIL{gpu,UUID,pci_bus_id,device,modelName,Hostname,
    DCGM_FI_DRIVER_VERSION,container,namespace,pod} (NVIDIA/dcgm-exporter
    internal/pkg/rendermetrics/render_metrics.go), scraped with honor_labels false and the
    exporter pod's namespace/pod/container as target labels, as its Helm chart's ServiceMonitor
    does: Prometheus itself renames the workload's labels to exported_*;
- /usr/bin/prometheus scraping all three every 1s with the rules generated for
  price_source=exporter at a 1s evaluation interval.
Expected (hand-checked): gpu-a p4d.24xlarge on-demand us-east-1a has only a region-wide price,
manual $18.00 (beats pricing-api $21.96); gpu-b g5.12xlarge spot us-east-1b has a zonal
spot-history price $1.9876. Cluster: $19.9876/h. Namespace ml-research requests 4 of gpu-a's 8
GPUs: 4 x $2.25 = $9.00/h. DCGM: gpu-a's GPUs 1-3 (held by train-0) run at 5 %, 4-7 (no pod) at
0 %: 7 low-util GPUs - 4 unrequested = 3 underutilized x $2.25 = $6.75/h.
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

GPU_A = "ip-10-0-1-10.ec2.internal"
GPU_B = "ip-10-0-2-20.ec2.internal"
NODES = [
    # node_name, nodepool, capacity_type, instance_type, zone, zone_id, gpus, requested
    (GPU_A, "gpu-od", "on-demand", "p4d.24xlarge", "us-east-1a", "use1-az1", 8, 4),
    (GPU_B, "gpu-spot", "spot", "g5.12xlarge", "us-east-1b", "use1-az2", 4, 0),
]
# Karpenter's well-known node labels of these instance types (values as the AWS provider sets them).
INSTANCE_LABELS = {
    "p4d.24xlarge": {
        "instance_category": "p",
        "instance_family": "p4d",
        "instance_generation": "4",
        "instance_size": "24xlarge",
        "instance_cpu": "96",
        "instance_memory": "1179648",
        "instance_gpu_count": "8",
        "instance_gpu_manufacturer": "nvidia",
        "instance_gpu_memory": "40960",
        "instance_gpu_name": "a100",
    },
    "g5.12xlarge": {
        "instance_category": "g",
        "instance_family": "g5",
        "instance_generation": "5",
        "instance_size": "12xlarge",
        "instance_cpu": "48",
        "instance_memory": "196608",
        "instance_gpu_count": "4",
        "instance_gpu_manufacturer": "nvidia",
        "instance_gpu_memory": "24576",
        "instance_gpu_name": "a10g",
    },
}
TRAIN_UID = "75a18e0f-3d69-5551-88bb-c89805fa7306"


class ClusterStandIn:
    """Karpenter node gauges and kube-state-metrics pod series, as a scrape target."""

    def collect(self):
        fixed = ["node_name", "nodepool", "capacity_type", "instance_type", "zone", "zone_id"]
        fixed += ["region", "arch", "os", "phase", "managed", "windows_build"]
        labels = [*fixed, *INSTANCE_LABELS["p4d.24xlarge"], "resource_type"]
        alloc = GaugeMetricFamily("karpenter_nodes_allocatable", "Node allocatable", labels=labels)
        req = GaugeMetricFamily(
            "karpenter_nodes_total_pod_requests", "Node total pod requests", labels=labels
        )
        for node, pool, ct, it, zone, zone_id, gpus, requested in NODES:
            values = [node, pool, ct, it, zone, zone_id, "us-east-1", "amd64", "linux", "", "true"]
            values += ["", *INSTANCE_LABELS[it].values()]
            alloc.add_metric([*values, "nvidia.com/gpu"], gpus)
            alloc.add_metric([*values, "cpu"], 95.69)
            if requested:
                req.add_metric([*values, "nvidia.com/gpu"], requested)
        pod_labels = ["namespace", "pod", "uid", "container", "node", "resource", "unit"]
        requests_family = GaugeMetricFamily(
            "kube_pod_container_resource_requests", "Requested resources", labels=pod_labels
        )
        pod = ["ml-research", "train-0", TRAIN_UID, "main", GPU_A]
        requests_family.add_metric([*pod, "nvidia_com_gpu", "integer"], 4)
        requests_family.add_metric([*pod, "cpu", "core"], 16)
        phase = GaugeMetricFamily(
            "kube_pod_status_phase", "Pod phase", labels=["namespace", "pod", "uid", "phase"]
        )
        for name in ("Pending", "Succeeded", "Failed", "Unknown", "Running"):
            phase.add_metric(["ml-research", "train-0", TRAIN_UID, name], name == "Running")
        namespaces = GaugeMetricFamily(
            "kube_namespace_labels", "Namespace labels", labels=["namespace", "label_team"]
        )
        namespaces.add_metric(["ml-research", "research"], 1)
        return [alloc, req, requests_family, phase, namespaces]


class DcgmStandIn:
    """dcgm-exporter's GPU utilisation on gpu-a: GPUs 0-3 held by train-0, 4-7 by no pod."""

    def collect(self):
        # one label set per GPU (a GPU no pod holds has no pod labels): add samples directly
        util = GaugeMetricFamily("DCGM_FI_DEV_GPU_UTIL", "GPU utilization (in %).")
        for gpu in range(8):
            labels = {
                "gpu": str(gpu),
                "UUID": f"GPU-6a8244c0-522e-5f02-a8ee-fc50132c7f{gpu:02d}",
                "pci_bus_id": f"00000000:{0x10 + gpu:02X}:1C.0",
                "device": f"nvidia{gpu}",
                "modelName": "NVIDIA A100-SXM4-40GB",
                "Hostname": GPU_A,
                "DCGM_FI_DRIVER_VERSION": "550.127.08",
            }
            if gpu < 4:
                labels |= {"container": "main", "namespace": "ml-research", "pod": "train-0"}
            value = 90 if gpu == 0 else 5 if gpu < 4 else 0
            util.add_sample("DCGM_FI_DEV_GPU_UTIL", labels, value)
        return [util]


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
def dcgm_port():
    registry = CollectorRegistry(auto_describe=False)
    registry.register(DcgmStandIn())
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
    prometheus_bin, exporter_port, stand_in_port, dcgm_port, tmp_path
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
                "honor_labels": True,
                "static_configs": [
                    {"targets": [f"127.0.0.1:{stand_in_port}"], "labels": {"cluster": "prod"}}
                ],
            },
            {
                # what the dcgm-exporter chart's ServiceMonitor (honorLabels: false) produces:
                # the target carries the exporter pod's own namespace/pod/container
                "job_name": "nvidia-dcgm-exporter",
                "honor_labels": False,
                "static_configs": [
                    {
                        "targets": [f"127.0.0.1:{dcgm_port}"],
                        "labels": {
                            "cluster": "prod",
                            "namespace": "gpu-operator",
                            "pod": "nvidia-dcgm-exporter-5kq7z",
                            "container": "nvidia-dcgm-exporter",
                        },
                    }
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
        assert by_node == pytest.approx({GPU_A: 18.0, GPU_B: 1.9876})
        (namespace,) = poll(
            base, 'namespace:costlab_cost_usd_per_hour:sum{namespace="ml-research"}'
        )
        assert float(namespace["value"][1]) == pytest.approx(9.0)
        (tenant,) = poll(base, "tenant:costlab_cost_usd_per_hour:sum")
        assert tenant["metric"]["tenant"] == "research"
        assert float(tenant["value"][1]) == pytest.approx(9.0)
        # Prometheus moved the workload to exported_pod; the rules read DCGM by Hostname and gpu
        (held,) = poll(base, 'DCGM_FI_DEV_GPU_UTIL{gpu="1"}')
        assert held["metric"]["exported_pod"] == "train-0"
        assert held["metric"]["pod"] == "nvidia-dcgm-exporter-5kq7z"
        (under,) = poll(base, 'node:costlab_idle_gpu_cost_usd_per_hour:sum{reason="underutilized"}')
        assert under["metric"]["node_name"] == GPU_A
        assert float(under["value"][1]) == pytest.approx(6.75)
    finally:
        proc.terminate()
        proc.wait(timeout=20)
        log.close()
