"""Small fleets for `costlab doctor`, one per `cluster` label value, in the upstream exporters' shapes.

30 minutes at 15 s ending at END (the doctor runs `--at END`). Shapes, per the upstream sources:
- Karpenter node metrics (kubernetes-sigs/karpenter pkg/controllers/metrics/node/controller.go):
  `resource_type="nvidia.com/gpu"` (lower-cased, '-' to '_', dots and slashes kept), labels
  node_name, nodepool, capacity_type, instance_type, zone, region, arch, os, managed and the AWS
  provider's instance_gpu_* (empty phase is dropped by Prometheus); nodeclaims_disrupted_total
  {reason, nodepool, capacity_type} (pkg/metrics/metrics.go); the price estimate {instance_type,
  capacity_type, zone} (aws/karpenter-provider-aws pkg/controllers/metrics/metrics.go).
- kube-state-metrics (kubernetes/kube-state-metrics internal/store/pod.go, node.go):
  `resource="nvidia_com_gpu",unit="integer"`; *_labels only with --metric-labels-allowlist
  (v2.10+: no series at all without it), label names `label_` + sanitised, snake-cased key.
- dcgm-exporter (NVIDIA/dcgm-exporter internal/pkg/rendermetrics/render_metrics.go): gpu, UUID,
  pci_bus_id, device, modelName, Hostname, DCGM_FI_DRIVER_VERSION, pod/namespace/container;
  scraped with honorLabels: false (the chart default) the workload labels become exported_* and
  pod/namespace/container name the exporter pod (Prometheus honor_labels).
- vLLM (vllm-project/vllm vllm/v1/metrics/loggers.py): counters with model_name, engine.

Clusters:
- healthy: everything; dcgm pod mapping as pod/namespace/container; one idle GPU has no pod labels.
- exported: as healthy, dcgm scraped with honorLabels: false (exported_*).
- noallow: kube-state-metrics without --metric-labels-allowlist: no *_labels series.
- relabelled: Karpenter's resource_type rewritten to nvidia_com_gpu by a relabeling, no
  kube-state-metrics node series (so no GPU node is discoverable).
- absent: no Karpenter and no kube-state-metrics node series.
- podhost: dcgm-exporter without NODE_NAME: Hostname is the exporter pod's name.
- nomap: dcgm-exporter without Kubernetes mapping, scraped with honorLabels: false: `pod` is the
  exporter's own pod on every series; and no DCGM_FI_PROF_* series (DCP unavailable).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

END = datetime(2026, 11, 1, 1, 0, tzinfo=UTC)
STEP = timedelta(seconds=15)
N = 120  # 30 minutes

KARP_NODE = "ip-10-0-1-23.ec2.internal"  # Karpenter-provisioned p4d.24xlarge
MNG_NODE = "ip-10-0-2-45.ec2.internal"  # EKS managed node group g5.xlarge (not Karpenter)
EXPORTER_PODS = {KARP_NODE: "dcgm-exporter-6ldbb", MNG_NODE: "dcgm-exporter-x7k2p"}
CLUSTERS = ("healthy", "exported", "noallow", "relabelled", "absent", "podhost", "nomap")

# Counters are written as gauges: OpenMetrics would want the family without `_total`, and
# the doctor does not look at types.
TYPES: dict[str, str] = {}


def _points(value: float, per_step: float = 0.0) -> list[tuple[datetime, float]]:
    start = END - STEP * N
    return [(start + STEP * i, value + per_step * i) for i in range(N)]


def _karpenter(cluster: str, resource_type: str) -> list:
    node = {
        "cluster": cluster,
        "node_name": KARP_NODE,
        "nodepool": "gpu",
        "capacity_type": "on-demand",
        "instance_type": "p4d.24xlarge",
        "zone": "us-east-1a",
        "region": "us-east-1",
        "arch": "amd64",
        "os": "linux",
        "managed": "true",
        "instance_gpu_name": "a100",
        "instance_gpu_count": "8",
        "instance_family": "p4d",
    }
    return [
        ("karpenter_nodes_allocatable", {**node, "resource_type": resource_type}, _points(8)),
        ("karpenter_nodes_allocatable", {**node, "resource_type": "cpu"}, _points(95.69)),
        (
            "karpenter_nodes_total_pod_requests",
            {**node, "resource_type": resource_type},
            _points(2),
        ),
        (
            "karpenter_nodeclaims_disrupted_total",
            {
                "cluster": cluster,
                "reason": "underutilized",
                "nodepool": "gpu",
                "capacity_type": "spot",
            },
            _points(3),
        ),
        (
            "karpenter_cloudprovider_instance_type_offering_price_estimate",
            {
                "cluster": cluster,
                "instance_type": "p4d.24xlarge",
                "capacity_type": "on-demand",
                "zone": "us-east-1a",
            },
            _points(21.96),
        ),
    ]


def _ksm_pods(cluster: str) -> list:
    out = []
    pods = [
        ("team-a", "train-0", "u1", "trainer", KARP_NODE, 2),
        ("team-b", "infer-0", "u2", "vllm", MNG_NODE, 1),
    ]
    for ns, pod, uid, container, node, gpus in pods:
        ids = {"cluster": cluster, "namespace": ns, "pod": pod, "uid": uid}
        out.append(
            (
                "kube_pod_container_resource_requests",
                {
                    **ids,
                    "container": container,
                    "node": node,
                    "resource": "nvidia_com_gpu",
                    "unit": "integer",
                },
                _points(gpus),
            )
        )
        out.append(
            (
                "kube_pod_info",
                {
                    **ids,
                    "node": node,
                    "host_ip": "10.0.1.23" if node == KARP_NODE else "10.0.2.45",
                    "pod_ip": f"10.0.9.{len(out)}",
                    "created_by_kind": "Job" if pod.startswith("train") else "ReplicaSet",
                    "created_by_name": pod.rsplit("-", 1)[0],
                    "priority_class": "",
                    "host_network": "false",
                },
                _points(1),
            )
        )
    return out


def _ksm_labels(cluster: str) -> list:
    """With --metric-labels-allowlist=pods=[team,app.kubernetes.io/name,llm-d.ai/model],
    namespaces=[team],nodes=[...]: label names as kube-state-metrics forms them."""
    c = {"cluster": cluster}
    return [
        (
            "kube_pod_labels",
            {
                **c,
                "namespace": "team-a",
                "pod": "train-0",
                "uid": "u1",
                "label_team": "research",
                "label_app_kubernetes_io_name": "trainer",
            },
            _points(1),
        ),
        (
            "kube_pod_labels",
            {
                **c,
                "namespace": "team-b",
                "pod": "infer-0",
                "uid": "u2",
                "label_team": "serving",
                "label_app_kubernetes_io_name": "vllm",
                "label_llm_d_ai_model": "llama-3-8b",
            },
            _points(1),
        ),
        (
            "kube_namespace_labels",
            {**c, "namespace": "team-a", "label_team": "research"},
            _points(1),
        ),
        (
            "kube_namespace_labels",
            {**c, "namespace": "team-b", "label_team": "serving"},
            _points(1),
        ),
        (
            "kube_node_labels",
            {
                **c,
                "node": KARP_NODE,
                "label_node_kubernetes_io_instance_type": "p4d.24xlarge",
                "label_karpenter_sh_capacity_type": "on-demand",
                "label_karpenter_sh_nodepool": "gpu",
                "label_topology_kubernetes_io_zone": "us-east-1a",
            },
            _points(1),
        ),
        (
            "kube_node_labels",
            {
                **c,
                "node": MNG_NODE,
                "label_node_kubernetes_io_instance_type": "g5.xlarge",
                "label_eks_amazonaws_com_capacity_type": "ON_DEMAND",
                "label_topology_kubernetes_io_zone": "us-east-1b",
            },
            _points(1),
        ),
    ]


def _ksm_nodes(cluster: str) -> list:
    out = []
    for node, gpus, zone, iid in (
        (KARP_NODE, 8, "us-east-1a", "i-0a1b2c3d4e5f60718"),
        (MNG_NODE, 1, "us-east-1b", "i-0f9e8d7c6b5a40312"),
    ):
        out.append(
            (
                "kube_node_status_allocatable",
                {"cluster": cluster, "node": node, "resource": "nvidia_com_gpu", "unit": "integer"},
                _points(gpus),
            )
        )
        out.append(
            (
                "kube_node_info",
                {
                    "cluster": cluster,
                    "node": node,
                    "provider_id": f"aws:///{zone}/{iid}",
                    "kernel_version": "6.1.112-124.190.amzn2023.x86_64",
                    "os_image": "Amazon Linux 2023.6.20241010",
                    "container_runtime_version": "containerd://1.7.22",
                    "kubelet_version": "v1.31.0-eks-a737599",
                    "internal_ip": "10.0.1.23" if node == KARP_NODE else "10.0.2.45",
                    "system_uuid": "ec2" + iid[2:10],
                },
                _points(1),
            )
        )
    return out


DCGM_METRICS = {
    "DCGM_FI_DEV_GPU_UTIL": 62.0,
    "DCGM_FI_DEV_FB_USED": 30210.0,
    "DCGM_FI_DEV_FB_FREE": 10326.0,
    "DCGM_FI_DEV_POWER_USAGE": 248.5,
    "DCGM_FI_DEV_GPU_TEMP": 51.0,
    "DCGM_FI_PROF_GR_ENGINE_ACTIVE": 0.58,
}


def _dcgm(cluster: str, *, mapping: str, hostname: str) -> list:
    """mapping: "pod" (honorLabels: true), "exported" (honorLabels: false), "none" (no Kubernetes
    mapping, honorLabels: false). hostname: "node" (NODE_NAME set) or "pod" (unset)."""
    gpus = [
        (
            KARP_NODE,
            "0",
            "GPU-5a3c8e1f-0d2b-4c7e-9f61-2b8a4d0c7e11",
            "00000000:10:1C.0",
            "NVIDIA A100-SXM4-40GB",
            ("team-a", "train-0", "trainer"),
        ),
        (
            KARP_NODE,
            "1",
            "GPU-7b1d2f3a-6c4e-4a8b-b2d9-5e0f1a3c9d22",
            "00000000:10:1D.0",
            "NVIDIA A100-SXM4-40GB",
            ("team-a", "train-0", "trainer"),
        ),
        (
            KARP_NODE,
            "2",
            "GPU-9c2e4a5b-1d3f-4b6c-8e7a-0f2b3c4d5e33",
            "00000000:20:1C.0",
            "NVIDIA A100-SXM4-40GB",
            None,
        ),
        (
            MNG_NODE,
            "0",
            "GPU-1e2f3a4b-5c6d-4e7f-8a9b-0c1d2e3f4a44",
            "00000000:00:1E.0",
            "NVIDIA A10G",
            ("team-b", "infer-0", "vllm"),
        ),
    ]
    out = []
    for metric, value in DCGM_METRICS.items():
        if mapping == "none" and metric.startswith("DCGM_FI_PROF_"):
            continue
        for node, gpu, uuid, bus, model, workload in gpus:
            labels = {
                "cluster": cluster,
                "gpu": gpu,
                "UUID": uuid,
                "pci_bus_id": bus,
                "device": f"nvidia{gpu}",
                "modelName": model,
                "Hostname": node if hostname == "node" else EXPORTER_PODS[node],
                "DCGM_FI_DRIVER_VERSION": "550.127.05",
                "job": "dcgm-exporter",
                "instance": ("10.0.1.23" if node == KARP_NODE else "10.0.2.45") + ":9400",
            }
            if mapping != "pod":
                labels |= {
                    "namespace": "gpu-operator",
                    "pod": EXPORTER_PODS[node],
                    "container": "dcgm-exporter",
                    "service": "dcgm-exporter",
                    "endpoint": "metrics",
                }
            if workload and mapping != "none":
                names = ("namespace", "pod", "container")
                prefix = "exported_" if mapping == "exported" else ""
                labels |= {prefix + k: v for k, v in zip(names, workload, strict=True)}
            out.append((metric, labels, _points(value)))
    return out


def _vllm(cluster: str) -> list:
    labels = {
        "cluster": cluster,
        "model_name": "meta-llama/Llama-3.1-8B-Instruct",
        "engine": "0",
        "namespace": "team-b",
        "pod": "infer-0",
        "job": "vllm",
    }
    return [
        ("vllm:prompt_tokens_total", labels, _points(1000, 350)),
        ("vllm:generation_tokens_total", labels, _points(500, 120)),
    ]


def cluster_series(cluster: str) -> list:
    karpenter = {"relabelled": "nvidia_com_gpu", "absent": None}.get(cluster, "nvidia.com/gpu")
    ksm_nodes = cluster not in ("relabelled", "absent")
    out = _karpenter(cluster, karpenter) if karpenter else []
    out += _ksm_pods(cluster)
    if cluster != "noallow":
        labels = _ksm_labels(cluster)
        out += [s for s in labels if ksm_nodes or s[0] != "kube_node_labels"]
    if ksm_nodes:
        out += _ksm_nodes(cluster)
    mapping = {"exported": "exported", "nomap": "none"}.get(cluster, "pod")
    out += _dcgm(cluster, mapping=mapping, hostname="pod" if cluster == "podhost" else "node")
    out += _vllm(cluster)
    return out


def fleet_series() -> list:
    return [s for cluster in CLUSTERS for s in cluster_series(cluster)]
