"""One small fleet as every common install scrapes it into Prometheus, one cluster per variant.

The fleet (T0 = 2026-11-01T00:00Z, data for one hour, then nothing; scrape interval a parameter):

- node-k: launched by Karpenter (nodepool gpu), g5.12xlarge on-demand us-east-1a, 4 x A10G.
- node-m: EKS managed node group ng-a10g (no Karpenter series), g5.xlarge on-demand us-east-1b,
  1 x A10G.
- llm/vllm-0: 2 GPUs on node-k for the hour (pod label team=ml).
- search/embed-0: 1 GPU on node-k for the first half hour.
- search/rank-0: 1 GPU on node-m for the hour. Namespace search has the label team=discovery.
- Prices (karpenter_cloudprovider_instance_type_offering_price_estimate): g5.12xlarge on-demand
  us-east-1a $4.00/h, g5.xlarge on-demand us-east-1b $1.00/h.

Variants, each the `cluster` label of its series (`variant_name`):

- honor: dcgm-exporter scraped with honorLabels true (workload in `pod`/`namespace`/`container`) or
  false, the dcgm chart's default (workload in `exported_*`, the exporter's own pod in `pod`/
  `namespace`/`container`). Idle GPUs carry only the exporter's target labels in both.
- allowlist: kube-state-metrics with `--metric-labels-allowlist=nodes=[...],namespaces=[team],
  pods=[team]` (kube_node_labels, kube_namespace_labels, kube_pod_labels) or its default (v2.10+:
  none of those series at all).
- host: dcgm-exporter's node label `Hostname` (every release to 4.5.3-4.8.2) or `hostname` (HEAD).

Every metric name and label value is an upstream one (tests/conformance/README.md).
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

T0 = datetime(2026, 11, 1, tzinfo=UTC)
HOUR = timedelta(hours=1)
VARIANTS = list(itertools.product((True, False), (True, False), ("Hostname", "hostname")))

Series = tuple[str, dict[str, str], list[tuple[datetime, float]]]


def variant_name(honor: bool, allowlist: bool, host: str) -> str:
    return f"honor-{str(honor).lower()}_allowlist-{str(allowlist).lower()}_{host}"


def _karpenter_labels(node: str) -> dict[str, str]:
    # karpenter_nodes_* labels (kubernetes-sigs/karpenter pkg/controllers/metrics/node/
    # controller.go); empty well-known labels are dropped by Prometheus, so absent here
    return {
        "node_name": node,
        "nodepool": "gpu",
        "capacity_type": "on-demand",
        "instance_type": "g5.12xlarge",
        "zone": "us-east-1a",
        "region": "us-east-1",
        "arch": "amd64",
        "os": "linux",
        "managed": "true",
        "instance_category": "g",
        "instance_family": "g5",
        "instance_gpu_count": "4",
        "instance_gpu_manufacturer": "nvidia",
        "instance_gpu_name": "a10g",
    }


def variant_series(
    honor: bool, allowlist: bool, host: str, interval: timedelta = timedelta(seconds=15)
) -> list[Series]:
    cluster = variant_name(honor, allowlist, host)
    n = int(HOUR / interval)
    half = n // 2

    def s(metric: str, labels: dict[str, str], idx: range, value) -> Series:
        points = [(T0 + interval * i, value(i) if callable(value) else value) for i in idx]
        return metric, {"cluster": cluster, **labels}, points

    every = range(n)
    out: list[Series] = []
    # --- Karpenter (node-k only)
    for rtype, value in (("nvidia.com/gpu", 4.0), ("cpu", 47.81), ("pods", 234.0)):
        labels = _karpenter_labels("node-k") | {"resource_type": rtype}
        out.append(s("karpenter_nodes_allocatable", labels, every, value))
    requested = _karpenter_labels("node-k") | {"resource_type": "nvidia.com/gpu"}
    out.append(
        s(
            "karpenter_nodes_total_pod_requests",
            requested,
            every,
            lambda i: 3.0 if i < half else 2.0,
        )
    )
    for itype, zone, price in (
        ("g5.12xlarge", "us-east-1a", 4.0),
        ("g5.xlarge", "us-east-1b", 1.0),
    ):
        labels = {"instance_type": itype, "capacity_type": "on-demand", "zone": zone}
        out.append(
            s(
                "karpenter_cloudprovider_instance_type_offering_price_estimate",
                labels,
                range(2 * n),
                price,
            )
        )
    # --- kube-state-metrics, default flags (internal/store/node.go, pod.go)
    nodes = (("node-k", "us-east-1a", "i-0a1b2c3d4e5f60001", 4.0), ("node-m", "us-east-1b", "i-0a1b2c3d4e5f60002", 1.0))  # fmt: skip
    for node, zone, instance_id, gpus in nodes:
        for resource, unit, value in (("nvidia_com_gpu", "integer", gpus), ("cpu", "core", 3.92)):
            labels = {"node": node, "resource": resource, "unit": unit}
            out.append(s("kube_node_status_allocatable", labels, every, value))
        info = {
            "node": node,
            "kernel_version": "6.1.132-147.221.amzn2023.x86_64",
            "os_image": "Amazon Linux 2023.7.20250414",
            "container_runtime_version": "containerd://1.7.27",
            "kubelet_version": "v1.32.3-eks-473151a",
            "kubeproxy_version": "deprecated",
            "provider_id": f"aws:///{zone}/{instance_id}",
            "system_uuid": f"ec2{instance_id[2:10]}",
            "internal_ip": "10.0.1.5" if node == "node-k" else "10.0.2.9",
        }
        out.append(s("kube_node_info", info, every, 1.0))
    pods = (
        ("llm", "vllm-0", "u1", "vllm", "node-k", 2.0, every),
        ("search", "embed-0", "u2", "embed", "node-k", 1.0, range(half)),
        ("search", "rank-0", "u3", "rank", "node-m", 1.0, every),
    )
    for ns, pod, uid, container, node, gpus, idx in pods:
        base = {"namespace": ns, "pod": pod, "uid": uid, "container": container, "node": node}
        for resource, unit, value in (("nvidia_com_gpu", "integer", gpus), ("cpu", "core", 2.0)):
            labels = base | {"resource": resource, "unit": unit}
            out.append(s("kube_pod_container_resource_requests", labels, idx, value))
        info = {
            "namespace": ns,
            "pod": pod,
            "uid": uid,
            "node": node,
            "host_ip": "10.0.1.5" if node == "node-k" else "10.0.2.9",
            "pod_ip": f"10.1.0.{uid[1:]}",
            "created_by_kind": "ReplicaSet",
            "created_by_name": f"{pod[:-2]}-6d4f",
            "host_network": "false",
        }
        out.append(s("kube_pod_info", info, idx, 1.0))
    # --- kube-state-metrics with --metric-labels-allowlist (label_ + snake_case of the key)
    if allowlist:
        node_k = {
            "node": "node-k",
            "label_karpenter_sh_nodepool": "gpu",
            "label_karpenter_sh_capacity_type": "on-demand",
            "label_node_kubernetes_io_instance_type": "g5.12xlarge",
            "label_topology_kubernetes_io_zone": "us-east-1a",
        }
        node_m = {
            "node": "node-m",
            "label_eks_amazonaws_com_nodegroup": "ng-a10g",
            "label_eks_amazonaws_com_capacity_type": "ON_DEMAND",
            "label_node_kubernetes_io_instance_type": "g5.xlarge",
            "label_topology_kubernetes_io_zone": "us-east-1b",
        }
        out += [
            s("kube_node_labels", node_k, every, 1.0),
            s("kube_node_labels", node_m, every, 1.0),
        ]
        pod_labels = {"namespace": "llm", "pod": "vllm-0", "uid": "u1", "label_team": "ml"}
        out.append(s("kube_pod_labels", pod_labels, every, 1.0))
        out.append(s("kube_namespace_labels", {"namespace": "search", "label_team": "discovery"}, every, 1.0))  # fmt: skip
        out.append(s("kube_namespace_labels", {"namespace": "llm"}, every, 1.0))
    # --- dcgm-exporter (internal/pkg/rendermetrics/render_metrics.go), one exporter pod per node
    gpus = (
        ("node-k", "0", "GPU-k0", ("llm", "vllm-0", "vllm"), every),
        ("node-k", "1", "GPU-k1", ("llm", "vllm-0", "vllm"), every),
        ("node-k", "2", "GPU-k2", ("search", "embed-0", "embed"), range(half)),
        ("node-k", "2", "GPU-k2", None, range(half, n)),
        ("node-k", "3", "GPU-k3", None, every),
        ("node-m", "0", "GPU-m0", ("search", "rank-0", "rank"), every),
    )
    for node, gpu, uuid, workload, idx in gpus:
        exporter = {
            "namespace": "gpu-operator",
            "pod": f"nvidia-dcgm-exporter-{node[-1]}x7k2p",
            "container": "nvidia-dcgm-exporter",
            "job": "nvidia-dcgm-exporter",
            "instance": "10.0.1.5:9400" if node == "node-k" else "10.0.2.9:9400",
        }
        labels = {
            "gpu": gpu,
            "UUID": uuid,
            "pci_bus_id": f"00000000:00:1{gpu}.0",
            "device": f"nvidia{gpu}",
            "modelName": "NVIDIA A10G",
            host: node,
            "DCGM_FI_DRIVER_VERSION": "550.54.15",
        }
        if workload is None:
            labels |= exporter  # an idle GPU: only the target's labels
        elif honor:
            labels |= exporter | dict(zip(("namespace", "pod", "container"), workload, strict=True))
        else:
            moved = ("exported_namespace", "exported_pod", "exported_container")
            labels |= exporter | dict(zip(moved, workload, strict=True))
        util = 0.0 if workload is None else 80.0
        out.append(s("DCGM_FI_DEV_GPU_UTIL", labels, idx, util))
        out.append(s("DCGM_FI_DEV_FB_USED", labels, idx, 0.0 if workload is None else 20000.0))
        out.append(s("DCGM_FI_PROF_GR_ENGINE_ACTIVE", labels, idx, util / 100))
    return out


def fleet(interval: timedelta = timedelta(seconds=15)) -> list[Series]:
    return [x for v in VARIANTS for x in variant_series(*v, interval=interval)]
