"""Prometheus-shaped series to costlab tables. Shared by the Prometheus collector and the demo.

A *sample frame* is a polars DataFrame with columns `metric` (str), `ts` (UTC datetime),
`value` (f64) and one string column per label (absent labels may be missing or null). Metric and
label names are the real ones (dcgm-exporter, kube-state-metrics, Karpenter), so the demo and a
live scrape go through exactly the same code.

Presence over time becomes intervals: a node or pod holds from its first sample to its last
sample plus one step (scrape-interval resolution). A silence longer than `gap_factor` steps
splits the interval: the time in between is not charged to anyone.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

import polars as pl

from costlab.collect import accelerators as acc

DCGM_FIELDS: dict[str, str] = {
    "DCGM_FI_DEV_GPU_UTIL": "util_pct",
    "DCGM_FI_DEV_FB_USED": "fb_used_mib",
    "DCGM_FI_DEV_FB_FREE": "fb_free_mib",
    "DCGM_FI_DEV_POWER_USAGE": "power_w",
    "DCGM_FI_DEV_GPU_TEMP": "temp_c",
    "DCGM_FI_PROF_GR_ENGINE_ACTIVE": "engine_active_ratio",
}
NODE_METRIC = "karpenter_nodes_allocatable"
POD_REQUEST_METRIC = "kube_pod_container_resource_requests"
POD_LABELS_METRIC = "kube_pod_labels"
NAMESPACE_LABELS_METRIC = "kube_namespace_labels"


def _col(frame: pl.DataFrame, name: str) -> pl.Expr:
    return pl.col(name) if name in frame.columns else pl.lit(None, dtype=pl.String).alias(name)


# dcgm-exporter's Kubernetes labels, as written by the exporter (`--use-old-namespace` spells them
# pod_name/pod_namespace/container_name) and as stored by Prometheus when the scrape's own target
# labels win (honorLabels: false, the dcgm-exporter chart default: exported_pod, ...).
DCGM_WORKLOAD = (
    ("namespace", "pod_namespace"),
    ("pod", "pod_name"),
    ("container", "container_name"),
)
# Node name label of dcgm-exporter: `Hostname` in every release up to 4.5.3-4.8.2, `hostname`
# after NVIDIA/dcgm-exporter #655 (unreleased HEAD).
DCGM_NODE_LABELS = ("Hostname", "hostname")


def _present(frame: pl.DataFrame, name: str) -> pl.Expr:
    """The label's value, null when absent or empty (Prometheus drops empty labels; a raw
    exposition keeps `pod=""`)."""
    col = _col(frame, name)
    return pl.when(col != "").then(col).alias(name)


def dcgm_node(frame: pl.DataFrame, node_label: str | None = None) -> pl.Expr:
    """`Hostname`, else `hostname`, else the configured label."""
    names = [*DCGM_NODE_LABELS, *([node_label] if node_label else [])]
    return pl.coalesce([_present(frame, n) for n in names]).alias("node")


def dcgm_workload(frame: pl.DataFrame) -> pl.DataFrame:
    """namespace, pod, container of the workload holding each DCGM sample's GPU.

    A series that has `exported_pod` (or the old `pod_name`) takes the workload from those
    labels: its `pod`/`namespace`/`container` name the exporter itself. The exporter's own pod is
    never a tenant: a series without workload labels (an idle GPU) carries the exporter's target
    labels, recognised as the pod seen next to an `exported_pod` elsewhere in the frame.
    """
    moved = pl.coalesce(_present(frame, "exported_pod"), _present(frame, "pod_name"))
    picked = [
        pl.when(moved.is_not_null())
        .then(pl.coalesce(_present(frame, f"exported_{new}"), _present(frame, old)))
        .otherwise(_present(frame, new))
        .alias(new)
        for new, old in DCGM_WORKLOAD
    ]
    target = pl.concat_str(
        _present(frame, "namespace").fill_null(""), _present(frame, "pod"), separator="/"
    )
    # with_columns, not select: literals (labels absent from the frame) broadcast to its height
    out = frame.with_columns(
        *picked, moved.is_not_null().alias("_moved"), target.alias("_target")
    ).select("namespace", "pod", "container", "_moved", "_target")
    exporters = out.filter(pl.col("_moved"))["_target"].drop_nulls().unique()
    if exporters.len():
        idle = ~pl.col("_moved") & pl.col("_target").is_in(exporters.implode())
        out = out.with_columns(
            pl.when(~idle).then(pl.col(c)).alias(c) for c in ("namespace", "pod", "container")
        )
    return out.select("namespace", "pod", "container")


def gpu_samples_from_dcgm(
    frame: pl.DataFrame,
    cluster: str | None = None,
    step: timedelta | None = None,
    node_label: str | None = None,
) -> pl.DataFrame:
    """DCGM exporter samples to `gpu_samples` rows (one per GPU or MIG instance per scrape).

    `step` is the time one sample stands for (query step / scrape interval), stored as sample_ms.
    The node is `Hostname`, else `hostname`, else `node_label`; the workload as `dcgm_workload`.
    """
    if "metric" not in frame.columns:
        return pl.DataFrame()
    dcgm = frame.filter(pl.col("metric").is_in(list(DCGM_FIELDS)))
    if dcgm.height == 0:
        return pl.DataFrame()
    keyed = pl.concat(
        [
            dcgm.select(
                pl.col("ts"),
                (pl.lit(cluster) if cluster else _col(dcgm, "cluster")).alias("cluster"),
                dcgm_node(dcgm, node_label),
                _col(dcgm, "gpu").cast(pl.Int32, strict=False).alias("gpu_index"),
                pl.coalesce(_col(dcgm, "UUID"), _col(dcgm, "uuid")).alias("gpu_uuid"),
                _col(dcgm, "GPU_I_ID")
                .cast(pl.Int32, strict=False)
                .fill_null(-1)
                .alias("mig_instance_id"),
                _col(dcgm, "GPU_I_PROFILE").alias("mig_profile"),
                _col(dcgm, "modelName").alias("model_name"),
                pl.col("metric"),
                pl.col("value"),
            ),
            dcgm_workload(dcgm),
        ],
        how="horizontal",
    )
    index = ["ts", "cluster", "node", "gpu_index", "gpu_uuid", "mig_instance_id"]
    labels = ["mig_profile", "model_name", "namespace", "pod", "container"]
    # One group per sample key (a pivot of the fields, in one pass): each field's last value, and
    # for labels any non-null value (a pod's labels can be absent on some scrapes).
    out = keyed.group_by(index).agg(
        *[
            pl.col("value").filter(pl.col("metric") == metric).last().alias(name)
            for metric, name in DCGM_FIELDS.items()
        ],
        *[pl.col(c).drop_nulls().last() for c in labels],
    )
    sample_ms = pl.lit(None if step is None else int(step.total_seconds() * 1000), dtype=pl.Int32)
    return out.select(index + labels + list(DCGM_FIELDS.values())).with_columns(
        sample_ms.alias("sample_ms")
    )


def intervals_from_presence(
    frame: pl.DataFrame,
    keys: list[str],
    step: timedelta,
    horizon: datetime | None,
    gap_factor: float = 2.5,
) -> pl.DataFrame:
    """Group samples by `keys` into [start_ts, end_ts) runs of presence.

    A run ends one step after its last sample; a silence longer than gap_factor x step starts
    a new run. A run whose last sample is within one step of `horizon` is still alive: end NULL.
    """
    tolerance = step * gap_factor
    runs = (
        frame.select(keys + ["ts"])
        .unique()
        .sort(keys + ["ts"])
        .with_columns(
            (
                (pl.col("ts").diff().over(keys) > tolerance).fill_null(False).cum_sum().over(keys)
            ).alias("_run")
        )
        .group_by(keys + ["_run"])
        .agg(pl.col("ts").min().alias("start_ts"), pl.col("ts").max().alias("_last"))
    )
    end = pl.col("_last") + step
    if horizon is not None:
        end = pl.when(end >= pl.lit(horizon)).then(None).otherwise(end)
    return runs.with_columns(end.alias("end_ts")).drop("_run", "_last")


def nodes_from_karpenter(
    frame: pl.DataFrame,
    step: timedelta,
    horizon: datetime | None,
    cluster: str | None = None,
    end_reasons: pl.DataFrame | None = None,
    resources: Sequence[str] = acc.DEFAULT_RESOURCES,
) -> pl.DataFrame:
    """`karpenter_nodes_allocatable{resource_type="nvidia.com/gpu"}` presence to `nodes` rows.

    Any of `resources` (Karpenter spells them lower-cased, `-` -> `_`) makes a node an
    accelerator node; its device count is the first of them it reports (list order).
    `end_reasons` (cluster, node, end_reason) comes from disruption events when the caller has
    them; otherwise an ended node's reason is 'unknown'.
    """
    if "metric" not in frame.columns:
        return pl.DataFrame()
    part = frame.filter(pl.col("metric") == NODE_METRIC)
    if part.height == 0 or "resource_type" not in part.columns:
        return pl.DataFrame()
    gpu = karpenter_devices(
        part.with_columns(
            _col(part, "cluster") if cluster is None else pl.lit(cluster).alias("cluster")
        ),
        resources,
    )
    if gpu.height == 0:
        return pl.DataFrame()
    attrs = ["nodepool", "instance_type", "capacity_type", "region", "zone", "instance_gpu_name"]
    shaped = gpu.select(
        pl.col("ts"),
        pl.col("cluster"),
        _col(gpu, "node_name").alias("node"),
        *[_col(gpu, a) for a in attrs],
        pl.col("value").round(0).cast(pl.Int32).fill_null(0).alias("gpu_count"),
    )
    keys = ["cluster", "node"]
    runs = intervals_from_presence(shaped, keys, step, horizon)
    facts = (
        shaped.sort("ts")
        .group_by(keys)
        .agg(*[pl.col(a).drop_nulls().last() for a in attrs], pl.col("gpu_count").max())
    )
    out = runs.join(facts, on=keys, how="left").with_columns(
        pl.col("instance_gpu_name").str.to_uppercase().alias("gpu_model"),
        pl.when(pl.col("end_ts").is_null())
        .then(None)
        .otherwise(pl.lit("unknown"))
        .alias("end_reason"),
    )
    if end_reasons is not None and end_reasons.height:
        out = (
            out.join(end_reasons.rename({"end_reason": "_reason"}), on=keys, how="left")
            .with_columns(
                pl.when(pl.col("end_ts").is_null())
                .then(None)
                .otherwise(pl.coalesce("_reason", "end_reason"))
                .alias("end_reason")
            )
            .drop("_reason")
        )
    return out.select(
        "cluster",
        "node",
        "start_ts",
        "end_ts",
        "end_reason",
        "nodepool",
        "instance_type",
        "capacity_type",
        "region",
        "zone",
        "gpu_count",
        "gpu_model",
    )


def karpenter_devices(frame: pl.DataFrame, resources: Sequence[str]) -> pl.DataFrame:
    """`karpenter_nodes_allocatable` samples to one per (cluster, node_name, ts) whose value is the
    node's device count (`accelerators.node_devices`; a node advertising only MIG slices or
    shared GPUs counts the instance's GPUs, Karpenter's `instance_gpu_count` label)."""
    hint = pl.coalesce(_col(frame, "instance_gpu_count"), _col(frame, "instance_accelerator_count"))
    return acc.node_devices(
        frame,
        ["cluster", "node_name", "ts"],
        "resource_type",
        {acc.karpenter_resource_type(r): i for i, r in enumerate(resources)},
        acc.KARPENTER_SLICES,
        hint.cast(pl.Float64, strict=False),
    )


def k8s_gpu_resource(
    ksm_resource: pl.Expr, resources: Sequence[str] = acc.DEFAULT_RESOURCES
) -> pl.Expr:
    """kube-state-metrics' sanitised resource name back to the extended resource name."""
    return acc.from_ksm(ksm_resource, resources)


def pod_requests_from_ksm(
    frame: pl.DataFrame,
    step: timedelta,
    horizon: datetime | None,
    cluster: str | None = None,
    resources: Sequence[str] = acc.DEFAULT_RESOURCES,
) -> pl.DataFrame:
    """`kube_pod_container_resource_requests` accelerator series (`resources`, MIG slices,
    time-sliced GPUs; KSM spelling `nvidia_com_gpu`) to `pod_gpu_requests` intervals."""
    if "metric" not in frame.columns:
        return pl.DataFrame()
    req = frame.filter(
        (pl.col("metric") == POD_REQUEST_METRIC)
        & _col(frame, "resource").str.contains(acc.ksm_request_pattern(resources))
    )
    if req.height == 0:
        return pl.DataFrame()
    shaped = req.select(
        pl.col("ts"),
        (pl.lit(cluster) if cluster else _col(frame, "cluster")).alias("cluster"),
        _col(frame, "namespace"),
        _col(frame, "pod"),
        _col(frame, "container").fill_null(""),
        k8s_gpu_resource(_col(frame, "resource"), resources).alias("gpu_resource"),
        _col(frame, "node"),
        pl.col("value").alias("quantity"),
    )
    # A pod that moves nodes is a new pod in Kubernetes; keying on node as well keeps a
    # rescheduled StatefulSet pod (same name) as two intervals.
    keys = ["cluster", "namespace", "pod", "container", "gpu_resource", "node", "quantity"]
    return intervals_from_presence(shaped, keys, step, horizon).select(
        "cluster",
        "namespace",
        "pod",
        "container",
        "gpu_resource",
        "start_ts",
        "end_ts",
        "node",
        "quantity",
    )


def labels_from_ksm(
    frame: pl.DataFrame, cluster: str | None = None
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """`kube_pod_labels` / `kube_namespace_labels` to long (key, value) rows.

    Keys are the label names as kube-state-metrics exposes them, without the `label_` prefix
    (so `app.kubernetes.io/name` arrives as `app_kubernetes_io_name`).
    """
    label_cols = [c for c in frame.columns if c.startswith("label_")]

    def melt(metric: str, ids: list[str]) -> pl.DataFrame:
        if "metric" not in frame.columns:
            return pl.DataFrame()
        part = frame.filter(pl.col("metric") == metric)
        if part.height == 0 or not label_cols:
            return pl.DataFrame()
        shaped = part.select(
            (pl.lit(cluster) if cluster else _col(frame, "cluster")).alias("cluster"),
            *[_col(frame, i) for i in ids if i != "cluster"],
            pl.col("ts"),
            *label_cols,
        )
        return (
            shaped.sort("ts")
            .unpivot(index=ids + ["ts"], on=label_cols, variable_name="key", value_name="value")
            .filter(pl.col("value").is_not_null() & (pl.col("value") != ""))
            .group_by(ids + ["key"])
            .agg(pl.col("value").last())
            .with_columns(pl.col("key").str.strip_prefix("label_"))
        )

    return melt(POD_LABELS_METRIC, ["cluster", "namespace", "pod"]), melt(
        NAMESPACE_LABELS_METRIC, ["cluster", "namespace"]
    )
