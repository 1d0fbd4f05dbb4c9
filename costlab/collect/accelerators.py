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

NVIDIA MIG slices (`nvidia.com/mig-1g.10gb` -> KSM `nvidia_com_mig_1g_10gb`) and time-sliced GPUs
(`nvidia.com/gpu.shared` -> `nvidia_com_gpu_shared`) are pod request resources in addition to
the configured list; a node's device count comes from the configured list only.
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
    types = [karpenter_resource_type(r) for r in resources]
    if len(types) == 1:
        return f'resource_type="{types[0]}"'
    return f'resource_type=~"{promql_alternation(types)}"'


def ksm_node_matcher(resources: Sequence[str]) -> str:
    return f'resource=~"{promql_alternation([ksm_resource(r) for r in resources])}"'


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


def device_count(
    frame: pl.DataFrame, keys: list[str], resource_col: str, spell: dict[str, int]
) -> pl.DataFrame:
    """Per `keys`, the row of the first configured resource with a non-zero value (list order; a
    zero only when none has more): a Neuron node reports both `aws.amazon.com/neuron` devices and
    `.../neuroncore` cores and must not count both. `spell` maps an exporter spelling to its rank
    in the list; a `value` column holds the count."""
    ranked = frame.with_columns(
        pl.col(resource_col).replace_strict(spell, default=None, return_dtype=pl.Int32).alias("_r"),
        (pl.col("value") <= 0).alias("_zero"),
    ).filter(pl.col("_r").is_not_null())
    return (
        ranked.sort("_zero", "_r").group_by(keys, maintain_order=True).first().drop("_r", "_zero")
    )
