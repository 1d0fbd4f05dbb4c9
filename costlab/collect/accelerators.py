"""Accelerator resource names as each exporter spells them, derived from one list.

The list holds Kubernetes extended resource names (`nvidia.com/gpu`, `amd.com/gpu`,
`aws.amazon.com/neuron`, ...); the exporters rewrite them differently, so matching one exporter's
spelling against another's finds nothing on a real cluster:

* Karpenter (`resource_type` of `karpenter_nodes_*`): lower-cased, `-` -> `_`, dots and slashes
  kept: `nvidia.com/gpu` (kubernetes-sigs/karpenter pkg/controllers/metrics/node/controller.go,
  `resourceNameToString`).
* kube-state-metrics (`resource` of `kube_pod_container_resource_requests`,
  `kube_node_status_allocatable`): every `[^a-zA-Z0-9_]` -> `_`, case kept: `nvidia_com_gpu`
  (kubernetes/kube-state-metrics internal/store/utils.go, `SanitizeLabelName`).

NVIDIA MIG slices (`nvidia.com/mig-1g.10gb` -> Karpenter `nvidia.com/mig_1g.10gb`, KSM
`nvidia_com_mig_1g_10gb`) and time-sliced GPUs (`nvidia.com/gpu.shared` -> KSM
`nvidia_com_gpu_shared`) are read in addition to the configured list: as pod requests, and as
node allocatable that makes a node an accelerator node (a node with MIG's mixed strategy or the
device plugin's renamed shared GPUs advertises no `nvidia.com/gpu`). Their allocatable counts
slices, not GPUs, so such a node's GPU count comes from elsewhere (`node_devices`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import polars as pl

DEFAULT_RESOURCES: tuple[str, ...] = (
    "nvidia.com/gpu",
    "amd.com/gpu",
    "aws.amazon.com/neuron",
    "aws.amazon.com/neuroncore",
)
NVIDIA_GPU = "nvidia.com/gpu"
NVIDIA_SHARED = "nvidia.com/gpu.shared"
# KSM spelling of a MIG resource: nvidia_com_mig_<compute>g_<memory>gb[_me]
KSM_MIG = r"nvidia_com_mig_(\d+g)_(\d+gb(?:_me)?)"
_KSM_INVALID = re.compile(r"[^a-zA-Z0-9_]")
# node allocatable of GPU slices (MIG profiles, time-sliced replicas), per exporter spelling
KARPENTER_SLICES = r"^nvidia\.com/(?:gpu\.shared|mig_\d+g\.\d+gb(?:\+me)?)$"
KSM_SLICES = rf"^(?:nvidia_com_gpu_shared|{KSM_MIG})$"


def karpenter_resource_type(resource: str) -> str:
    """`nvidia.com/gpu` -> `nvidia.com/gpu`; `vpc.amazonaws.com/pod-eni` -> `.../pod_eni`."""
    return resource.lower().replace("-", "_")


def ksm_resource(resource: str) -> str:
    """`nvidia.com/gpu` -> `nvidia_com_gpu`; `hugepages-2Mi` -> `hugepages_2Mi`."""
    return _KSM_INVALID.sub("_", resource)


def promql_alternation(values: Sequence[str]) -> str:
    """`a.b|c/d` as a PromQL regex inside a double-quoted string (dots escaped)."""
    return "|".join(re.escape(v).replace("\\", "\\\\") for v in values)


def karpenter_matcher(resources: Sequence[str]) -> str:
    """The configured devices and NVIDIA GPU slices, as Karpenter spells them."""
    types = [karpenter_resource_type(r) for r in resources]
    slices = r"nvidia\\.com/gpu\\.shared|nvidia\\.com/mig_.+"
    return f'resource_type=~"{promql_alternation(types)}|{slices}"'


def ksm_node_matcher(resources: Sequence[str]) -> str:
    """The configured devices and NVIDIA GPU slices, as kube-state-metrics spells them."""
    names = [ksm_resource(r) for r in resources] + [ksm_resource(NVIDIA_SHARED)]
    return f'resource=~"{promql_alternation(names)}|nvidia_com_mig_.+"'


def ksm_request_matcher(resources: Sequence[str]) -> str:
    """Pod requests of the configured devices, MIG slices and time-sliced GPUs."""
    names = [ksm_resource(r) for r in resources] + [ksm_resource(NVIDIA_SHARED)]
    return f'resource=~"{promql_alternation(names)}|{KSM_MIG.replace(chr(92), chr(92) * 2)}"'


def ksm_request_pattern(resources: Sequence[str]) -> str:
    """Python/polars regex of the request resources `ksm_request_matcher` selects."""
    names = [re.escape(ksm_resource(r)) for r in [*resources, NVIDIA_SHARED]]
    return rf"^(?:{'|'.join(names)}|{KSM_MIG})$"


def from_ksm(ksm: pl.Expr, resources: Sequence[str]) -> pl.Expr:
    """kube-state-metrics' sanitised resource back to the Kubernetes resource name (null when it
    is none of the configured resources, MIG slices or time-sliced GPUs)."""
    known = {ksm_resource(r): r for r in (*resources, NVIDIA_SHARED)}
    named = ksm.replace_strict(known, default=None, return_dtype=pl.String)
    mig = ksm.str.extract(f"^{KSM_MIG}$", 1)
    mig_mem = ksm.str.extract(f"^{KSM_MIG}$", 2).str.replace("_me", "+me")
    return pl.coalesce(named, pl.lit("nvidia.com/mig-") + mig + pl.lit(".") + mig_mem)


def node_devices(
    frame: pl.DataFrame,
    keys: list[str],
    resource_col: str,
    spell: dict[str, int],
    slices: str,
    count_hint: pl.Expr | None = None,
) -> pl.DataFrame:
    """Per `keys`, the row of the first configured device resource with a non-zero `value`
    (list order; a Neuron node reports both `aws.amazon.com/neuron` devices and `.../neuroncore`
    cores and must not count both), else of a GPU-slice resource (`slices`), whose value becomes
    `count_hint` (e.g. Karpenter's `instance_gpu_count` label; null: another source counts the
    GPUs). `spell` maps an exporter spelling of a configured resource to its rank in the list."""
    resource = pl.col(resource_col)
    rank = resource.replace_strict(spell, default=None, return_dtype=pl.Int32)
    hint = pl.lit(None, dtype=pl.Float64) if count_hint is None else count_hint
    part = frame.filter(rank.is_not_null() | resource.str.contains(slices)).with_columns(
        rank.fill_null(len(spell)).alias("_r"),
        pl.when(rank.is_not_null()).then(pl.col("value")).otherwise(hint).alias("value"),
    )
    return (
        part.with_columns((pl.col("value") <= 0).fill_null(True).alias("_zero"))
        .sort("_zero", "_r")
        .group_by(keys, maintain_order=True)
        .first()
        .drop("_r", "_zero")
    )
