"""What `costlab doctor` checks: one row per series costlab reads, in one table.

Each `Check` names a series (metric + matchers) as the upstream exporter really emits it, the
labels costlab needs on it, extra shape checks, what degrades without it and the exact fix. The
upstream sources are those of the conformance notes (Karpenter, kube-state-metrics,
dcgm-exporter, vLLM at the commits cited in docs/collect-prometheus.md, "Preflight").

`role` says how a check counts for the verdict: allocation needs at least one `nodes` check and
the `requests` check found; everything else only degrades features (a warning, exit 0), and
`info` rows are optional sources.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

Role = Literal["nodes", "requests", "feature", "info"]

KARPENTER = "karpenter"
KSM = "kube-state-metrics"
DCGM = "dcgm-exporter"
VLLM = "vllm"

# Labels costlab reads from kube_pod_labels / kube_namespace_labels / kube_node_labels, as the
# Kubernetes label keys (the allowlist) and as kube-state-metrics names them (label_ + snake case).
POD_LABEL_KEYS = ("team", "app.kubernetes.io/name", "llm-d.ai/model")
NAMESPACE_LABEL_KEYS = ("team",)
NODE_LABEL_KEYS = (
    "node.kubernetes.io/instance-type",
    "karpenter.sh/capacity-type",
    "karpenter.sh/nodepool",
    "eks.amazonaws.com/capacityType",
    "topology.kubernetes.io/zone",
)
ALLOWLIST = (
    f"pods=[{','.join(POD_LABEL_KEYS)}],namespaces=[{','.join(NAMESPACE_LABEL_KEYS)}],"
    f"nodes=[{','.join(NODE_LABEL_KEYS)}]"
)

KARPENTER_FIX = (
    "Scrape Karpenter's metrics (service port http-metrics, 8080, /metrics). Karpenter Helm chart: "
    "--set serviceMonitor.enabled=true (Prometheus Operator; kube-prometheus-stack also needs its "
    "selector label, e.g. --set serviceMonitor.additionalLabels.release=kube-prometheus-stack). "
    "Plain Prometheus:\n"
    "  - job_name: karpenter\n"
    "    kubernetes_sd_configs: [{role: endpoints, namespaces: {names: [kube-system]}}]\n"
    "    relabel_configs:\n"
    "      - source_labels: [__meta_kubernetes_service_name, __meta_kubernetes_endpoint_port_name]\n"
    "        regex: karpenter;http-metrics\n"
    "        action: keep"
)
KARPENTER_RESPELLED = (
    'resource_type is "nvidia_com_gpu" here, but Karpenter writes "nvidia.com/gpu" (lower-cased, '
    "'-' to '_', dots and slashes kept): a relabeling rewrites it"
)
KARPENTER_RESPELLED_FIX = (
    "Remove the metric_relabel_configs (ServiceMonitor metricRelabelings) or recording rule that "
    'rewrites resource_type on the Karpenter job, so resource_type="nvidia.com/gpu" matches.'
)
KSM_FIX = (
    "Scrape kube-state-metrics v2 (kube-prometheus-stack includes it; or helm install "
    "kube-state-metrics prometheus-community/kube-state-metrics with its ServiceMonitor, "
    "honorLabels: true)."
)
ALLOWLIST_FIX = (
    "kube-state-metrics v2.10+ emits no *_labels series without an allowlist. Add the flag\n"
    f"  --metric-labels-allowlist={ALLOWLIST}\n"
    "or the Helm value (chart prometheus-community/kube-state-metrics; under kube-state-metrics: "
    "in kube-prometheus-stack)\n"
    "  metricLabelsAllowlist:\n"
    f"    - pods=[{','.join(POD_LABEL_KEYS)}]\n"
    f"    - namespaces=[{','.join(NAMESPACE_LABEL_KEYS)}]\n"
    f"    - nodes=[{','.join(NODE_LABEL_KEYS)}]"
)
DCGM_FIX = (
    "Deploy dcgm-exporter with Kubernetes mapping and scrape it: the NVIDIA GPU Operator, or helm "
    "install dcgm-exporter from https://nvidia.github.io/dcgm-exporter/helm-charts with "
    "--set serviceMonitor.enabled=true."
)
DCGM_PROF_FIX = (
    "Profiling (DCP) fields need a GPU and driver with DCP support (datacenter GPUs, not in "
    "vGPU guests) and the row DCGM_FI_PROF_GR_ENGINE_ACTIVE uncommented in the exporter's counters "
    "CSV (it is in the default etc/default-counters.csv); the exporter logs "
    '"Skipping line ... metric not enabled" when DCP is unavailable.'
)
MAPPING_FIX = (
    "Enable dcgm-exporter's Kubernetes mapping: --kubernetes or env DCGM_EXPORTER_KUBERNETES=true, "
    "with the kubelet pod-resources socket mounted (/var/lib/kubelet/pod-resources); the Helm chart "
    "and the GPU Operator's dcgm-exporter do both."
)
HOSTNAME_FIX = (
    "dcgm-exporter sets Hostname from env NODE_NAME, else the container's hostname (the exporter "
    "pod's name). Set NODE_NAME on the exporter container:\n"
    "  env:\n"
    "    - name: NODE_NAME\n"
    "      valueFrom:\n"
    "        fieldRef:\n"
    "          fieldPath: spec.nodeName\n"
    "or set Hostname from the target's node at scrape time (honorLabels: false, the chart default: "
    "the target label wins, the scraped one becomes exported_Hostname). ServiceMonitor endpoint:\n"
    "  relabelings:\n"
    "    - sourceLabels: [__meta_kubernetes_pod_node_name]\n"
    "      targetLabel: Hostname\n"
    "Prometheus scrape config:\n"
    "  relabel_configs:\n"
    "    - source_labels: [__meta_kubernetes_pod_node_name]\n"
    "      target_label: Hostname"
)
VLLM_FIX = (
    "Optional. Scrape the vLLM servers' /metrics (a PodMonitor on the serving pods' HTTP port)."
)


@dataclass(frozen=True)
class Respelled:
    """The series exists with `matchers` instead of the expected ones: a relabeled shape."""

    matchers: str
    note: str
    fix: str


@dataclass(frozen=True)
class Check:
    key: str
    source: str
    metric: str
    matchers: str
    labels: tuple[str, ...]  # each needed on some series; "a|b" = either spelling
    degrades: str  # what costlab loses without the series
    fix: str
    upstream: str  # repository and file that emits it
    role: Role = "feature"
    respelled: tuple[Respelled, ...] = ()
    workload: bool = False  # dcgm: pod mapping labels (pod/namespace or exported_*)
    node_names: str = ""  # label whose values must name Kubernetes nodes
    allowlist: bool = False  # a *_labels series: missing means the allowlist is missing

    @property
    def series(self) -> str:
        return f"{self.metric}{{{self.matchers}}}" if self.matchers else self.metric


def _karpenter_node(key: str, metric: str, degrades: str, role: Role) -> Check:
    return Check(
        key=key,
        source=KARPENTER,
        metric=metric,
        matchers='resource_type="nvidia.com/gpu"',
        labels=("node_name", "nodepool", "capacity_type", "instance_type", "zone", "region"),
        degrades=degrades,
        fix=KARPENTER_FIX,
        upstream="kubernetes-sigs/karpenter pkg/controllers/metrics/node/controller.go",
        role=role,
        respelled=(
            Respelled(
                'resource_type="nvidia_com_gpu"',  # misspelled on purpose: doctor finds it
                KARPENTER_RESPELLED,
                KARPENTER_RESPELLED_FIX,
            ),
        ),
    )


def _dcgm(key: str, metric: str, degrades: str, fix: str = DCGM_FIX, **kw: object) -> Check:
    return Check(
        key=key,
        source=DCGM,
        metric=metric,
        matchers="",
        labels=("gpu", "UUID", "modelName", "Hostname|hostname"),
        degrades=degrades,
        fix=fix,
        upstream="NVIDIA/dcgm-exporter etc/default-counters.csv, "
        "internal/pkg/rendermetrics/render_metrics.go",
        **kw,  # type: ignore[arg-type]
    )


def _labels_check(key: str, metric: str, ids: tuple[str, ...], keys: tuple[str, ...]) -> Check:
    kinds = {
        "kube_pod_labels": "teams and models from pod labels: --by team / label:KEY fall back "
        "to namespaces",
        "kube_namespace_labels": "teams from namespace labels: teams fall back to namespace names",
        "kube_node_labels": "nodes outside Karpenter (EKS managed node groups) lack instance "
        "type, capacity type and zone: unpriced",
    }
    return Check(
        key=key,
        source=KSM,
        metric=metric,
        matchers="",
        labels=ids + tuple(label_name(k) for k in keys),
        degrades=kinds[metric],
        fix=ALLOWLIST_FIX,
        upstream="kubernetes/kube-state-metrics internal/store/"
        + {"kube_pod_labels": "pod.go", "kube_namespace_labels": "namespace.go"}.get(
            metric, "node.go"
        ),
        allowlist=True,
    )


def label_name(key: str) -> str:
    """A Kubernetes label key as kube-state-metrics names its label: `label_` + the key with
    every [^a-zA-Z0-9_] turned into `_`, then snake-cased (capacityType -> capacity_type)."""
    sanitised = re.sub(r"[^a-zA-Z0-9_]", "_", key)
    return "label_" + re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", sanitised).lower()


CHECKS: tuple[Check, ...] = (
    _karpenter_node(
        "karpenter-allocatable",
        "karpenter_nodes_allocatable",
        "Karpenter GPU nodes: presence, GPU count, nodepool, instance and capacity type, zone "
        "(node cost)",
        "nodes",
    ),
    _karpenter_node(
        "karpenter-pod-requests",
        "karpenter_nodes_total_pod_requests",
        "the cross-check of Karpenter's GPU requests per node against kube-state-metrics "
        "(request-mismatch gaps)",
        "feature",
    ),
    Check(
        key="karpenter-disrupted",
        source=KARPENTER,
        metric="karpenter_nodeclaims_disrupted_total",
        matchers="",
        labels=("reason", "nodepool", "capacity_type"),
        degrades="why a node ended (end_reason: interrupted, consolidated, ...); the series "
        "appears after the first disruption, so its absence on a quiet cluster is normal",
        fix=KARPENTER_FIX,
        upstream="kubernetes-sigs/karpenter pkg/metrics/metrics.go",
    ),
    Check(
        key="karpenter-price",
        source=KARPENTER,
        metric="karpenter_cloudprovider_instance_type_offering_price_estimate",
        matchers="",
        labels=("instance_type", "capacity_type", "zone"),
        degrades="price estimates per instance type, capacity type and zone (prices then come "
        "only from costlab collect prices / prices import)",
        fix=KARPENTER_FIX,
        upstream="aws/karpenter-provider-aws pkg/controllers/metrics/metrics.go",
    ),
    Check(
        key="ksm-pod-requests",
        source=KSM,
        metric="kube_pod_container_resource_requests",
        matchers='resource="nvidia_com_gpu",unit="integer"',
        labels=("namespace", "pod", "container", "node"),
        degrades="who requested which GPUs: without pod GPU requests every GPU-hour is idle",
        fix=KSM_FIX + " GPU pods must request nvidia.com/gpu (resources.limits); it appears as "
        'resource="nvidia_com_gpu".',
        upstream="kubernetes/kube-state-metrics internal/store/pod.go",
        role="requests",
    ),
    Check(
        key="ksm-node-allocatable",
        source=KSM,
        metric="kube_node_status_allocatable",
        matchers='resource="nvidia_com_gpu",unit="integer"',
        labels=("node",),
        degrades="GPU nodes outside Karpenter (EKS managed node groups): presence and GPU count",
        fix=KSM_FIX,
        upstream="kubernetes/kube-state-metrics internal/store/node.go",
        role="nodes",
    ),
    Check(
        key="ksm-node-info",
        source=KSM,
        metric="kube_node_info",
        matchers="",
        labels=("node", "provider_id"),
        degrades="each node's cloud instance (provider_id aws:///<zone>/<instance id>) and zone "
        "for nodes without Karpenter labels",
        fix=KSM_FIX,
        upstream="kubernetes/kube-state-metrics internal/store/node.go",
    ),
    Check(
        key="ksm-pod-info",
        source=KSM,
        metric="kube_pod_info",
        matchers="",
        labels=("namespace", "pod", "uid", "node", "created_by_kind", "created_by_name"),
        degrades="a pod's node when its request series has none, and its owner (Job, ReplicaSet)",
        fix=KSM_FIX,
        upstream="kubernetes/kube-state-metrics internal/store/pod.go",
    ),
    _labels_check("ksm-pod-labels", "kube_pod_labels", ("namespace", "pod"), POD_LABEL_KEYS),
    _labels_check(
        "ksm-namespace-labels", "kube_namespace_labels", ("namespace",), NAMESPACE_LABEL_KEYS
    ),
    _labels_check("ksm-node-labels", "kube_node_labels", ("node",), NODE_LABEL_KEYS),
    _dcgm(
        "dcgm-fb-used",
        "DCGM_FI_DEV_FB_USED",
        "GPU memory used per GPU and pod; GPUs per node for nodes only DCGM sees",
        workload=True,
        node_names="Hostname|hostname",
    ),
    _dcgm("dcgm-gpu-util", "DCGM_FI_DEV_GPU_UTIL", "GPU utilisation (busy vs idle GPU-hours)"),
    _dcgm("dcgm-fb-free", "DCGM_FI_DEV_FB_FREE", "GPU memory headroom (right-sizing)"),
    _dcgm("dcgm-power", "DCGM_FI_DEV_POWER_USAGE", "GPU power draw"),
    _dcgm("dcgm-temp", "DCGM_FI_DEV_GPU_TEMP", "GPU temperature"),
    _dcgm(
        "dcgm-engine-active",
        "DCGM_FI_PROF_GR_ENGINE_ACTIVE",
        "engine-active utilisation, the only utilisation of MIG instances (they report no "
        "DCGM_FI_DEV_GPU_UTIL)",
        fix=DCGM_PROF_FIX,
    ),
    Check(
        key="vllm-prompt-tokens",
        source=VLLM,
        metric="vllm:prompt_tokens_total",
        matchers="",
        labels=("model_name",),
        degrades="optional: prompt tokens per served model from the engines themselves",
        fix=VLLM_FIX,
        upstream="vllm-project/vllm vllm/v1/metrics/loggers.py",
        role="info",
    ),
    Check(
        key="vllm-generation-tokens",
        source=VLLM,
        metric="vllm:generation_tokens_total",
        matchers="",
        labels=("model_name",),
        degrades="optional: generated tokens per served model from the engines themselves",
        fix=VLLM_FIX,
        upstream="vllm-project/vllm vllm/v1/metrics/loggers.py",
        role="info",
    ),
)

# Metrics whose label values name Kubernetes nodes (to check dcgm-exporter's Hostname against).
NODE_NAME_SOURCES: tuple[tuple[str, str], ...] = (
    ("karpenter_nodes_allocatable", "node_name"),
    ("kube_node_info", "node"),
    ("kube_node_status_allocatable", "node"),
    ("kube_node_labels", "node"),
)
# The collector's GPU request selector (whole GPUs, shared GPUs, MIG slices).
GPU_REQUESTS = (
    "kube_pod_container_resource_requests",
    'resource=~"nvidia_com_(gpu|gpu_shared|mig_.+)"',
)
