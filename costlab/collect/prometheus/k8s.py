"""kube-state-metrics objects next to Karpenter's: node labels, pod info, pod-request totals.

Pure frame functions used by the Prometheus collector's loaders (no I/O):

* `node_presence` turns, per evaluation timestamp, `karpenter_nodes_allocatable{resource_type=
  "nvidia.com/gpu"}`, `kube_node_labels`, kube-state-metrics' `kube_node_status_allocatable{
  resource="nvidia_com_gpu"}` + `kube_node_info` and a per-node count of DCGM GPUs into one
  Karpenter-shaped sample frame, so `series.nodes_from_karpenter` builds `nodes` rows for both
  Karpenter nodes and nodes of other node groups (EKS managed node groups, self-managed ASGs).
  A node is present at a timestamp when Karpenter reports an accelerator allocatable, or when
  kube_node_labels reports it and it has GPUs at that timestamp (a GPU-count node label,
  kube-state-metrics allocatable, or DCGM GPUs whose node label is the node), or when only
  kube-state-metrics or DCGM report accelerators on it (the loader marks what no source knows,
  e.g. the instance type without a label allowlist, unknown). Per attribute Karpenter's value
  wins, then node labels, then kube-state-metrics (`kube_node_info` `provider_id` gives the zone),
  then DCGM (GPU count and model); Karpenter and labels both present and different is returned as
  a mismatch (a warning, Karpenter kept). Presence is decided per timestamp, so it does not depend
  on how the range was chunked.
* `fill_pod_nodes` gives request samples without a `node` label the node of the pod's
  `kube_pod_info` sample at the same timestamp.
* `pod_info_rows` summarises kube_pod_info per pod uid (node, host IP, owner, first/last seen).
* `request_mismatches` compares `karpenter_nodes_total_pod_requests{resource_type=
  "nvidia.com/gpu"}` with the sum of kube-state-metrics `resource="nvidia_com_gpu"` requests of
  the pods on the node, per timestamp and accelerator resource.
* `label_last_seen` is, per pod/namespace label key, the latest timestamp it had a value.
"""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl

from costlab.collect import accelerators as acc
from costlab.collect import series

NODE_LABELS_METRIC = "kube_node_labels"
NODE_ALLOCATABLE_METRIC = "kube_node_status_allocatable"
NODE_INFO_METRIC = "kube_node_info"
POD_INFO_METRIC = "kube_pod_info"
POD_REQUESTS_TOTAL_METRIC = "karpenter_nodes_total_pod_requests"
DCGM_GPUS_BY_NODE = "dcgm_gpus_by_node"  # alias of the per-node DCGM GPU count query

# Node attribute -> kube_node_labels label names, first non-empty wins. kube-state-metrics forms
# the name as "label_" + snake_case(sanitised key) (internal/store/utils.go), so
# `eks.amazonaws.com/capacityType` is `label_eks_amazonaws_com_capacity_type`; matching ignores
# case and underscores all the same (older exporters, relabelled names).
NODE_LABELS: dict[str, tuple[str, ...]] = {
    "nodepool": ("label_karpenter_sh_nodepool", "label_eks_amazonaws_com_nodegroup"),
    "instance_type": (
        "label_node_kubernetes_io_instance_type",
        "label_beta_kubernetes_io_instance_type",
    ),
    "capacity_type": (
        "label_karpenter_sh_capacity_type",
        "label_eks_amazonaws_com_capacity_type",
    ),
    "zone": ("label_topology_kubernetes_io_zone", "label_failure_domain_beta_kubernetes_io_zone"),
    "region": (
        "label_topology_kubernetes_io_region",
        "label_failure_domain_beta_kubernetes_io_region",
    ),
    "instance_gpu_name": (
        "label_karpenter_k8s_aws_instance_gpu_name",
        "label_nvidia_com_gpu_product",
    ),
    "gpu_count": ("label_karpenter_k8s_aws_instance_gpu_count", "label_nvidia_com_gpu_count"),
}
# Capacity type label values (karpenter.sh/capacity-type, eks.amazonaws.com/capacityType),
# lower-cased, to nodes.capacity_type.
CAPACITY_TYPES = {
    "spot": "spot",
    "on-demand": "on-demand",
    "on_demand": "on-demand",
    "reserved": "reserved",
    "capacity_block": "reserved",
}
ATTRS = ["nodepool", "instance_type", "capacity_type", "region", "zone", "instance_gpu_name"]
_TS = pl.Datetime("us", "UTC")


def _norm(name: str) -> str:
    return name.lower().replace("_", "")


def _first_label(frame: pl.DataFrame, names: tuple[str, ...]) -> pl.Expr:
    """The first non-empty of the label columns matching `names` (case/underscore-insensitive)."""
    wanted = [_norm(n) for n in names]
    cols = sorted(
        (c for c in frame.columns if _norm(c) in wanted), key=lambda c: wanted.index(_norm(c))
    )
    exprs = [pl.when(pl.col(c) != "").then(pl.col(c)) for c in cols]
    return pl.coalesce(exprs) if exprs else pl.lit(None, dtype=pl.String)


def _col(frame: pl.DataFrame, name: str) -> pl.Expr:
    return pl.col(name) if name in frame.columns else pl.lit(None, dtype=pl.String)


def zone_from_provider_id(provider_id: pl.Expr) -> pl.Expr:
    """`aws:///us-east-1a/i-0abc...` (kube_node_info provider_id on EKS) -> us-east-1a."""
    return provider_id.str.extract(r"^aws:///([a-z]{2}(?:-[a-z]+)+-\d+[a-z]+)/i-[0-9a-f]+$", 1)


def region_from_zone(zone: pl.Expr) -> pl.Expr:
    """us-east-1a -> us-east-1 (AWS zone names)."""
    return zone.str.extract(r"^([a-z]{2}(?:-[a-z]+)+-\d+)[a-z]+$", 1)


def gpu_short_name(model: pl.Expr) -> pl.Expr:
    """'NVIDIA A100-SXM4-40GB', 'NVIDIA-H100-80GB-HBM3', 'Tesla T4', 'a10g' -> 'A100', 'H100',
    'T4', 'A10G' (DCGM modelName / GPU feature discovery product / Karpenter gpu name)."""
    return (
        model.str.replace(r"(?i)^(nvidia|tesla)[ _-]+", "")
        .str.extract(r"^([A-Za-z0-9]+)", 1)
        .str.to_uppercase()
    )


def _empty_nodes() -> pl.DataFrame:
    return pl.DataFrame(
        schema={
            "ts": _TS,
            "cluster": pl.String,
            "node": pl.String,
            **{a: pl.String for a in ATTRS},
            "gpu_count": pl.Float64,
        }
    )


def _karpenter_nodes(frame: pl.DataFrame, resources: Sequence[str]) -> pl.DataFrame:
    part = frame.filter(pl.col("metric") == series.NODE_METRIC)
    if part.height == 0 or "resource_type" not in part.columns:
        return _empty_nodes()
    part = series.karpenter_devices(part, resources)
    if part.height == 0:
        return _empty_nodes()
    return part.select(
        "ts",
        "cluster",
        _col(part, "node_name").alias("node"),
        *[_col(part, a).alias(a) for a in ATTRS],
        pl.col("value").alias("gpu_count"),
    )


def _ksm_nodes(frame: pl.DataFrame, resources: Sequence[str]) -> pl.DataFrame:
    """kube-state-metrics nodes with accelerators at a timestamp (`kube_node_status_allocatable`,
    present without any label allowlist), the zone and region from `kube_node_info`'s
    provider_id."""
    part = frame.filter(pl.col("metric") == NODE_ALLOCATABLE_METRIC)
    if part.height == 0 or "resource" not in part.columns:
        return _empty_nodes()
    rank = {acc.ksm_resource(r): i for i, r in enumerate(resources)}
    counted = acc.node_devices(
        part, ["cluster", "node", "ts"], "resource", rank, acc.KSM_SLICES
    ).select("ts", "cluster", "node", pl.col("value").alias("gpu_count"))
    if counted.height == 0:
        return _empty_nodes()
    info = frame.filter(pl.col("metric") == NODE_INFO_METRIC)
    if info.height:
        zones = info.group_by("cluster", "node", "ts").agg(
            zone_from_provider_id(_col(info, "provider_id")).drop_nulls().first().alias("zone")
        )
        counted = counted.join(zones, on=["cluster", "node", "ts"], how="left")
    else:
        counted = counted.with_columns(pl.lit(None, dtype=pl.String).alias("zone"))
    # a node with only GPU slices (count null) is present; DCGM counts its GPUs
    return (
        counted.filter((pl.col("gpu_count") > 0) | pl.col("gpu_count").is_null())
        .with_columns(
            *[pl.lit(None, dtype=pl.String).alias(a) for a in ATTRS if a != "zone"],
        )
        .with_columns(region_from_zone(pl.col("zone")).alias("region"))
        .select(_empty_nodes().columns)
    )


def _labelled_nodes(frame: pl.DataFrame, ksm: pl.DataFrame, dcgm: pl.DataFrame) -> pl.DataFrame:
    """kube_node_labels samples of nodes with GPUs at that timestamp (a GPU-count label, else
    kube-state-metrics allocatable, else DCGM), attributes from labels."""
    labels = frame.filter(pl.col("metric") == NODE_LABELS_METRIC)
    if labels.height == 0:
        return _empty_nodes()
    shaped = labels.select(
        "ts",
        "cluster",
        _col(labels, "node").alias("node"),
        *[_first_label(labels, NODE_LABELS[a]).alias(a) for a in ATTRS],
        _first_label(labels, NODE_LABELS["gpu_count"])
        .cast(pl.Float64, strict=False)
        .alias("gpu_count"),
    ).with_columns(
        pl.col("capacity_type")
        .str.to_lowercase()
        .replace_strict(CAPACITY_TYPES, default=None)
        .alias("capacity_type"),
        pl.col("instance_gpu_name").pipe(gpu_short_name).str.to_lowercase(),
    )
    if ksm.height:
        shaped = shaped.join(
            ksm.select("cluster", "node", "ts", pl.col("gpu_count").alias("_ksm_gpus")),
            on=["cluster", "node", "ts"],
            how="left",
        ).with_columns(pl.coalesce("gpu_count", "_ksm_gpus").alias("gpu_count"))
    gpus = dcgm
    if gpus.height:
        shaped = shaped.join(
            gpus.select(
                "cluster",
                "node",
                "ts",
                pl.col("gpu_count").alias("_dcgm_gpus"),
                pl.col("instance_gpu_name").alias("_dcgm_model"),
            ),
            on=["cluster", "node", "ts"],
            how="left",
        ).with_columns(
            pl.coalesce("gpu_count", "_dcgm_gpus").alias("gpu_count"),
            pl.coalesce("instance_gpu_name", "_dcgm_model").alias("instance_gpu_name"),
        )
    return shaped.filter(pl.col("gpu_count") > 0).select(_empty_nodes().columns)


def _dcgm_nodes(frame: pl.DataFrame, node_label: str | None) -> pl.DataFrame:
    """Nodes as dcgm-exporter sees them, per timestamp: the node (`Hostname`, `hostname` or the
    configured label), the number of distinct GPUs (UUIDs: MIG instances count once, as their
    parent GPU) and the GPU model; no other attribute is known."""
    dcgm = frame.filter(pl.col("metric") == DCGM_GPUS_BY_NODE)
    if dcgm.height == 0:
        return _empty_nodes()
    return (
        dcgm.group_by("cluster", series.dcgm_node(dcgm, node_label), "ts")
        .agg(
            pl.col("value").sum().alias("gpu_count"),
            _col(dcgm, "modelName").drop_nulls().sort().first().alias("instance_gpu_name"),
        )
        .with_columns(
            gpu_short_name(pl.col("instance_gpu_name")).str.to_lowercase(),
            *[pl.lit(None, dtype=pl.String).alias(a) for a in ATTRS if a != "instance_gpu_name"],
        )
        .filter(pl.col("gpu_count") > 0)
        .select(_empty_nodes().columns)
    )


def node_presence(
    frame: pl.DataFrame,
    resources: Sequence[str] = acc.DEFAULT_RESOURCES,
    node_label: str | None = None,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Karpenter + kube_node_labels + kube-state-metrics + DCGM GPU counts to a Karpenter-shaped
    sample frame.

    A node is present at a timestamp when any source reports accelerators on it; attributes come
    from Karpenter, then node labels, then kube-state-metrics, then DCGM (GPU count and model
    only), so a node Karpenter knows is one node, never two.
    Input: a sample frame with a `cluster` column. Output: (samples, mismatches); samples have
    metric = karpenter_nodes_allocatable, resource_type = the Karpenter spelling of the first of
    `resources`, node_name, the node attributes and value = device count, one row per (cluster,
    node, ts); mismatches are (cluster, node, attribute, karpenter, labels) where both sources had
    a value and they differ.
    """
    if frame.height == 0 or "metric" not in frame.columns:
        return pl.DataFrame(), pl.DataFrame()
    karp = _karpenter_nodes(frame, resources).with_columns(pl.lit(0).alias("_src"))
    ksm_nodes = _ksm_nodes(frame, resources)
    dcgm_nodes = _dcgm_nodes(frame, node_label)
    labelled = _labelled_nodes(frame, ksm_nodes, dcgm_nodes).with_columns(pl.lit(1).alias("_src"))
    ksm = ksm_nodes.with_columns(pl.lit(2).alias("_src"))
    dcgm = dcgm_nodes.with_columns(pl.lit(3).alias("_src"))
    keys = ["cluster", "node", "ts"]
    every = pl.concat([karp, labelled, ksm, dcgm], how="vertical_relaxed").filter(
        pl.col("node").is_not_null()
    )
    merged = (
        every.sort(keys + ["_src"])
        .group_by(keys, maintain_order=True)
        .agg(*[pl.col(a).drop_nulls().first() for a in ATTRS + ["gpu_count"]])
        .with_columns(
            pl.coalesce("region", region_from_zone(pl.col("zone"))).alias("region"),
            pl.lit(series.NODE_METRIC).alias("metric"),
            pl.lit(acc.karpenter_resource_type(resources[0])).alias("resource_type"),
            pl.col("gpu_count").alias("value"),
        )
        .rename({"node": "node_name"})
        .drop("gpu_count")
    )
    compared = ["nodepool", "instance_type", "capacity_type", "zone", "instance_gpu_name"]
    pairs = karp.join(labelled, on=keys, how="inner", suffix="_label")
    mismatches = [
        pairs.filter(
            pl.col(a).is_not_null()
            & pl.col(f"{a}_label").is_not_null()
            & (pl.col(a).str.to_lowercase() != pl.col(f"{a}_label").str.to_lowercase())
        )
        .select(
            "cluster",
            "node",
            pl.lit(a).alias("attribute"),
            pl.col(a).alias("karpenter"),
            pl.col(f"{a}_label").alias("labels"),
        )
        .unique()
        for a in compared
    ]
    return merged, pl.concat(mismatches).sort(pl.all())


def fill_pod_nodes(frame: pl.DataFrame) -> pl.DataFrame:
    """Request samples whose `node` label is absent get the node of the pod's kube_pod_info sample
    at the same timestamp (kube-state-metrics before v2 has no `node` on requests). Prometheus
    drops empty labels, so a pending pod (node="") stays without a node in both."""
    req = frame.filter(pl.col("metric") == series.POD_REQUEST_METRIC)
    if req.height == 0:
        return req
    if "node" not in req.columns:
        req = req.with_columns(pl.lit(None, dtype=pl.String).alias("node"))
    info = frame.filter((pl.col("metric") == POD_INFO_METRIC) & (_col(frame, "node") != ""))
    if info.height == 0:
        return req
    keys = ["cluster", "namespace", "pod", "ts"]
    nodes = info.group_by(keys).agg(pl.col("node").drop_nulls().first().alias("_info_node"))
    return (
        req.join(nodes, on=keys, how="left", nulls_equal=True)
        .with_columns(pl.coalesce(pl.col("node"), pl.col("_info_node")).alias("node"))
        .drop("_info_node")
    )


POD_INFO_ATTRS = ["node", "host_ip", "created_by_kind", "created_by_name", "priority_class"]


def pod_info_rows(frame: pl.DataFrame) -> pl.DataFrame:
    """kube_pod_info samples to one row per (cluster, namespace, pod, uid): attributes from the
    latest sample that has them, first and last evaluation timestamp seen."""
    info = frame.filter(pl.col("metric") == POD_INFO_METRIC) if frame.height else frame
    if info.height == 0:
        return pl.DataFrame()
    shaped = info.select(
        "cluster",
        "namespace",
        "pod",
        _col(info, "uid").fill_null("").alias("uid"),
        "ts",
        *[_col(info, a).alias(a) for a in POD_INFO_ATTRS],
    )
    return (
        shaped.sort("ts")
        .group_by("cluster", "namespace", "pod", "uid")
        .agg(
            *[pl.col(a).drop_nulls().last() for a in POD_INFO_ATTRS],
            pl.col("ts").min().alias("first_seen_ts"),
            pl.col("ts").max().alias("last_seen_ts"),
        )
    )


def request_mismatches(
    frame: pl.DataFrame, requests: pl.DataFrame, resources: Sequence[str] = acc.DEFAULT_RESOURCES
) -> pl.DataFrame:
    """Timestamps where Karpenter's total of pod requests of an accelerator resource on a node
    differs from the sum of kube-state-metrics requests of that resource by the pods on that node
    (whole devices only; MIG and shared GPUs are other resource types).
    Output: cluster, node, resource (Karpenter's `resource_type`), ts, karpenter, ksm."""
    karp_names = {acc.karpenter_resource_type(r): r for r in resources}
    ksm_names = {acc.ksm_resource(r): acc.karpenter_resource_type(r) for r in resources}
    total = frame.filter(
        (pl.col("metric") == POD_REQUESTS_TOTAL_METRIC)
        & _col(frame, "resource_type").is_in(list(karp_names))
    )
    keys = ["cluster", "node", "resource", "ts"]
    if total.height == 0:
        return pl.DataFrame(
            schema={
                **{k: (_TS if k == "ts" else pl.String) for k in keys},
                "karpenter": pl.Float64,
                "ksm": pl.Float64,
            }
        )
    karp = total.group_by(
        "cluster",
        pl.col("node_name").alias("node"),
        pl.col("resource_type").alias("resource"),
        "ts",
    ).agg(pl.col("value").sum().alias("karpenter"))
    ksm = (
        requests.filter(
            _col(requests, "resource").is_in(list(ksm_names)) & pl.col("node").is_not_null()
        )
        .with_columns(pl.col("resource").replace_strict(ksm_names))
        .group_by(keys)
        .agg(pl.col("value").sum().alias("ksm"))
        if requests.height
        else pl.DataFrame(
            schema={**{k: (_TS if k == "ts" else pl.String) for k in keys}, "ksm": pl.Float64}
        )
    )
    return (
        karp.join(ksm, on=keys, how="left")
        .with_columns(pl.col("ksm").fill_null(0.0))
        .filter((pl.col("karpenter") - pl.col("ksm")).abs() > 1e-6)
        .select(*keys, "karpenter", "ksm")
    )


def label_last_seen(frame: pl.DataFrame, metric: str, ids: list[str]) -> pl.DataFrame:
    """Per (ids, key) the latest timestamp at which `metric` had a non-empty `label_<key>`; keys
    without the `label_` prefix, as `series.labels_from_ksm` writes them."""
    part = frame.filter(pl.col("metric") == metric) if frame.height else frame
    label_cols = [c for c in part.columns if c.startswith("label_")]
    if part.height == 0 or not label_cols:
        return pl.DataFrame(
            schema={**{i: pl.String for i in ids}, "key": pl.String, "last_seen_ts": _TS}
        )
    return (
        part.select(*ids, "ts", *label_cols)
        .unpivot(index=ids + ["ts"], on=label_cols, variable_name="key", value_name="value")
        .filter(pl.col("value").is_not_null() & (pl.col("value") != ""))
        .group_by(ids + ["key"])
        .agg(pl.col("ts").max().alias("last_seen_ts"))
        .with_columns(pl.col("key").str.strip_prefix("label_"))
    )
