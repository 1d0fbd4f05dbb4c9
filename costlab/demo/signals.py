"""The demo's workload as the series a real cluster exports to Prometheus.

Produces sample frames (see costlab/collect/series.py) with the real metric and label names of
dcgm-exporter, kube-state-metrics and Karpenter, so the demo is loaded by the same transforms and
loaders as a live `costlab collect prometheus`. Label values are the upstream ones: Karpenter's
`resource_type="nvidia.com/gpu"`, kube-state-metrics' `resource="nvidia_com_gpu"`, and DCGM series
as Prometheus stores them from the dcgm-exporter chart's default scrape (honorLabels: false): the
workload in `exported_namespace`/`exported_pod`/`exported_container`, the exporter's own pod in
`namespace`/`pod`/`container` (tests/conformance/README.md).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime

import numpy as np
import polars as pl

from costlab.collect.accelerators import karpenter_resource_type, ksm_resource
from costlab.collect.series import DCGM_FIELDS
from costlab.demo import profiles as P
from costlab.demo.workload import NodeRun, PodRun, Workload

DCGM_MODEL_NAMES = {
    ("A10G", 22888): "NVIDIA A10G",
    ("A100", 40960): "NVIDIA A100-SXM4-40GB",
    ("A100", 81920): "NVIDIA A100-SXM4-80GB",
    ("H100", 81920): "NVIDIA H100 80GB HBM3",
    ("H200", 144384): "NVIDIA H200",
}
UNSET = ""
DCGM_EXPORTER_NAMESPACE = "gpu-operator"


def _ts(start: datetime, minutes: np.ndarray) -> pl.Series:
    epoch = int(start.timestamp()) + minutes.astype(np.int64) * P.STEP_S
    return pl.Series("ts", epoch * 1_000_000, dtype=pl.Int64).cast(pl.Datetime("us", "UTC"))


def karpenter_node_series(w: Workload, start: datetime, cluster: str) -> pl.DataFrame:
    """karpenter_nodes_allocatable{resource_type="nvidia.com/gpu"}: one sample per node per step."""
    frames = []
    for node in (n for n in w.nodes if n.cluster == cluster):
        gpus, model, _ = w.node_gpus[node.node]
        minutes = np.arange(node.start, node.end)
        frames.append(
            pl.DataFrame(
                {
                    "ts": _ts(start, minutes),
                    "value": np.full(minutes.size, float(gpus)),
                }
            ).with_columns(
                pl.lit("karpenter_nodes_allocatable").alias("metric"),
                pl.lit(node.node).alias("node_name"),
                pl.lit(node.nodepool).alias("nodepool"),
                pl.lit(node.instance_type).alias("instance_type"),
                pl.lit(node.capacity_type).alias("capacity_type"),
                pl.lit(node.zone).alias("zone"),
                pl.lit(_region(node)).alias("region"),
                pl.lit(model.lower()).alias("instance_gpu_name"),
                pl.lit(karpenter_resource_type("nvidia.com/gpu")).alias("resource_type"),
            )
        )
    return pl.concat(frames) if frames else pl.DataFrame()


def _region(node: NodeRun) -> str:
    return node.zone[:-1]


def end_reasons(w: Workload, cluster: str) -> pl.DataFrame:
    """What Karpenter's disruption events say ended each node (consolidated, interrupted, ...)."""
    ended = [
        (n.cluster, n.node, n.end_reason) for n in w.nodes if n.cluster == cluster and n.end_reason
    ]
    return pl.DataFrame(ended, schema=["cluster", "node", "end_reason"], orient="row")


def ksm_pod_series(w: Workload, start: datetime, cluster: str) -> pl.DataFrame:
    """kube_pod_container_resource_requests for GPU resources, one sample per pod per step."""
    frames = []
    for pod in (p for p in w.pods if p.cluster == cluster):
        minutes = np.arange(pod.start, pod.end)
        frames.append(
            pl.DataFrame(
                {"ts": _ts(start, minutes), "value": np.full(minutes.size, pod.quantity)}
            ).with_columns(
                pl.lit("kube_pod_container_resource_requests").alias("metric"),
                pl.lit(pod.namespace).alias("namespace"),
                pl.lit(pod.pod).alias("pod"),
                pl.lit("main").alias("container"),
                pl.lit(pod.node).alias("node"),
                pl.lit(ksm_resource(pod.gpu_resource)).alias("resource"),
                pl.lit("integer").alias("unit"),
            )
        )
    return pl.concat(frames) if frames else pl.DataFrame()


def ksm_label_series(
    w: Workload, start: datetime, cluster: str, namespace_teams: dict[str, str | None]
) -> pl.DataFrame:
    """kube_pod_labels and kube_namespace_labels, label names sanitised as kube-state-metrics does."""
    rows = []
    for pod in (p for p in w.pods if p.cluster == cluster):
        row = {
            "metric": "kube_pod_labels",
            "namespace": pod.namespace,
            "pod": pod.pod,
            "ts": pod.start,
        }
        row.update({ksm_label_name(k): v for k, v in pod.labels.items()})
        rows.append(row)
    for namespace, team in namespace_teams.items():
        row = {"metric": "kube_namespace_labels", "namespace": namespace, "pod": None, "ts": 0}
        if team:
            row["label_team"] = team
        rows.append(row)
    frame = pl.DataFrame(rows, infer_schema_length=None)
    return frame.with_columns(_ts(start, frame["ts"].to_numpy()), pl.lit(1.0).alias("value"))


def ksm_label_name(key: str) -> str:
    """A Kubernetes label key as kube-state-metrics names its `label_*` label:
    "label_" + snake_case(sanitised key) (internal/store/utils.go)."""
    return "label_" + re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", ksm_resource(key)).lower()


def dcgm_series(
    w: Workload, start: datetime, cluster: str, rng: np.random.Generator
) -> Iterator[pl.DataFrame]:
    """dcgm-exporter samples per GPU (or MIG instance) per step, one frame per node, long form."""
    pods_by_node: dict[str, list[PodRun]] = {}
    for pod in w.pods:
        if pod.cluster == cluster:
            pods_by_node.setdefault(pod.node, []).append(pod)
    for node in (n for n in w.nodes if n.cluster == cluster):
        yield _node_dcgm(w, node, pods_by_node.get(node.node, []), start, rng)


def _node_dcgm(
    w: Workload, node: NodeRun, pods: list[PodRun], start: datetime, rng: np.random.Generator
) -> pl.DataFrame:
    gpus, model, mem = w.node_gpus[node.node]
    devices = gpus * node.mig_slices if node.mig_profile else gpus
    steps = node.end - node.start
    util = np.abs(rng.normal(0.0, 0.3, size=(devices, steps)))
    fb = np.full((devices, steps), P.IDLE_GPU_FB_MIB)
    owner = np.full((devices, steps), -1, dtype=np.int32)
    for index, pod in enumerate(pods):
        lo, hi = pod.start - node.start, pod.end - node.start
        curve = w.util[pod.signal][pod.start : pod.end]
        for d in range(pod.gpu_offset, pod.gpu_offset + pod.gpus):
            util[d, lo:hi] = np.clip(curve + rng.normal(0.0, 3.0, size=hi - lo), 0, 100)
            fb[d, lo:hi] = pod.model_fb_mib if pod.model_fb_mib > 1 else pod.model_fb_mib * mem
            owner[d, lo:hi] = index
    device_mem = mem / node.mig_slices if node.mig_profile else mem
    fb = np.minimum(fb, device_mem * 0.97)
    idle_w, tdp = P.GPU_POWER_W.get(model, (50, 300))
    minutes = np.tile(np.arange(node.start, node.end), devices)
    device = np.repeat(np.arange(devices), steps)
    util_flat = util.ravel()
    frame = pl.DataFrame(
        {
            "ts": _ts(start, minutes),
            "device": device,
            "owner": owner.ravel(),
            "DCGM_FI_DEV_GPU_UTIL": np.round(util_flat),
            "DCGM_FI_DEV_FB_USED": np.round(fb.ravel()),
            "DCGM_FI_DEV_FB_FREE": np.round(device_mem - fb.ravel()),
            "DCGM_FI_DEV_POWER_USAGE": np.round(idle_w + (tdp - idle_w) * util_flat / 100.0, 1),
            "DCGM_FI_DEV_GPU_TEMP": np.round(
                P.GPU_TEMP_C[0] + (P.GPU_TEMP_C[1] - P.GPU_TEMP_C[0]) * util_flat / 100.0
            ),
            "DCGM_FI_PROF_GR_ENGINE_ACTIVE": np.round(util_flat / 100.0 * 0.9, 4),
        }
    )
    uuids = [f"GPU-{node.node[3:].split('.')[0]}-{g:02d}" for g in range(gpus)]
    pod_ns = [p.namespace for p in pods]
    pod_names = [p.pod for p in pods]
    per_gpu = node.mig_slices or 1
    frame = frame.with_columns(
        (pl.col("device") // per_gpu).alias("gpu"),
        pl.lit(node.node).alias("Hostname"),
        pl.lit(DCGM_MODEL_NAMES.get((model, mem), f"NVIDIA {model}")).alias("modelName"),
        pl.when(pl.col("owner") >= 0)
        .then(
            pl.col("owner").replace_strict(
                range(len(pods)), pod_ns, default=None, return_dtype=pl.String
            )
        )
        .alias("exported_namespace"),
        pl.when(pl.col("owner") >= 0)
        .then(
            pl.col("owner").replace_strict(
                range(len(pods)), pod_names, default=None, return_dtype=pl.String
            )
        )
        .alias("exported_pod"),
        pl.when(pl.col("owner") >= 0).then(pl.lit("main")).alias("exported_container"),
        # the exporter's own target labels (one dcgm-exporter pod per node)
        pl.lit(DCGM_EXPORTER_NAMESPACE).alias("namespace"),
        pl.lit(f"nvidia-dcgm-exporter-{node.node[-5:]}").alias("pod"),
        pl.lit("nvidia-dcgm-exporter").alias("container"),
    ).with_columns(
        pl.col("gpu").replace_strict(range(gpus), uuids, return_dtype=pl.String).alias("UUID"),
        pl.col("gpu").cast(pl.String),
    )
    if node.mig_profile:
        # MIG instances report engine activity and memory per instance; whole-GPU util is not
        # available for MIG devices in dcgm-exporter.
        frame = frame.with_columns(
            ((pl.col("device") % per_gpu) + 1).cast(pl.String).alias("GPU_I_ID"),
            pl.lit(node.mig_profile).alias("GPU_I_PROFILE"),
        ).drop("DCGM_FI_DEV_GPU_UTIL", "DCGM_FI_DEV_POWER_USAGE", "DCGM_FI_DEV_GPU_TEMP")
    metrics = [m for m in DCGM_FIELDS if m in frame.columns]
    labels = [c for c in frame.columns if c not in metrics and c not in ("device", "owner")]
    return frame.drop("device", "owner").unpivot(
        index=labels, on=metrics, variable_name="metric", value_name="value"
    )
