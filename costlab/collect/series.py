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

from datetime import datetime, timedelta

import polars as pl

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

# kube-state-metrics writes resource names with every [^a-zA-Z0-9_] turned into '_'.
GPU_RESOURCE_PATTERN = r"^nvidia_com_(gpu|gpu_shared|mig_\d+g_\d+gb(?:_me)?)$"


def _col(frame: pl.DataFrame, name: str) -> pl.Expr:
    return pl.col(name) if name in frame.columns else pl.lit(None, dtype=pl.String).alias(name)


def gpu_samples_from_dcgm(
    frame: pl.DataFrame, cluster: str | None = None, step: timedelta | None = None
) -> pl.DataFrame:
    """DCGM exporter samples to `gpu_samples` rows (one per GPU or MIG instance per scrape).

    `step` is the time one sample stands for (query step / scrape interval), stored as sample_ms.
    """
    if "metric" not in frame.columns:
        return pl.DataFrame()
    dcgm = frame.filter(pl.col("metric").is_in(list(DCGM_FIELDS)))
    if dcgm.height == 0:
        return pl.DataFrame()
    keyed = dcgm.select(
        pl.col("ts"),
        (pl.lit(cluster) if cluster else _col(frame, "cluster")).alias("cluster"),
        _col(frame, "Hostname").alias("node"),
        _col(frame, "gpu").cast(pl.Int32, strict=False).alias("gpu_index"),
        _col(frame, "UUID").alias("gpu_uuid"),
        _col(frame, "GPU_I_ID").cast(pl.Int32, strict=False).fill_null(-1).alias("mig_instance_id"),
        _col(frame, "GPU_I_PROFILE").alias("mig_profile"),
        _col(frame, "modelName").alias("model_name"),
        _col(frame, "namespace").alias("namespace"),
        _col(frame, "pod").alias("pod"),
        _col(frame, "container").alias("container"),
        pl.col("metric"),
        pl.col("value"),
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
) -> pl.DataFrame:
    """`karpenter_nodes_allocatable{resource_type="nvidia_com_gpu"}` presence to `nodes` rows.

    `end_reasons` (cluster, node, end_reason) comes from disruption events when the caller has
    them; otherwise an ended node's reason is 'unknown'.
    """
    if "metric" not in frame.columns:
        return pl.DataFrame()
    gpu = frame.filter(
        (pl.col("metric") == NODE_METRIC) & (_col(frame, "resource_type") == "nvidia_com_gpu")
    )
    if gpu.height == 0:
        return pl.DataFrame()
    attrs = ["nodepool", "instance_type", "capacity_type", "region", "zone", "instance_gpu_name"]
    shaped = gpu.select(
        pl.col("ts"),
        (pl.lit(cluster) if cluster else _col(frame, "cluster")).alias("cluster"),
        _col(frame, "node_name").alias("node"),
        *[_col(frame, a) for a in attrs],
        pl.col("value").round(0).cast(pl.Int32).alias("gpu_count"),
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


def k8s_gpu_resource(ksm_resource: pl.Expr) -> pl.Expr:
    """kube-state-metrics' sanitised resource name back to the extended resource name."""
    mig = ksm_resource.str.extract(r"^nvidia_com_mig_(\d+g)_(\d+gb(?:_me)?)$", 1)
    mig_mem = ksm_resource.str.extract(r"^nvidia_com_mig_(\d+g)_(\d+gb(?:_me)?)$", 2).str.replace(
        "_me", "+me"
    )
    return (
        pl.when(ksm_resource == "nvidia_com_gpu")
        .then(pl.lit("nvidia.com/gpu"))
        .when(ksm_resource == "nvidia_com_gpu_shared")
        .then(pl.lit("nvidia.com/gpu.shared"))
        .otherwise(pl.lit("nvidia.com/mig-") + mig + pl.lit(".") + mig_mem)
    )


def pod_requests_from_ksm(
    frame: pl.DataFrame, step: timedelta, horizon: datetime | None, cluster: str | None = None
) -> pl.DataFrame:
    """`kube_pod_container_resource_requests` GPU series to `pod_gpu_requests` intervals."""
    if "metric" not in frame.columns:
        return pl.DataFrame()
    req = frame.filter(
        (pl.col("metric") == POD_REQUEST_METRIC)
        & _col(frame, "resource").str.contains(GPU_RESOURCE_PATTERN)
    )
    if req.height == 0:
        return pl.DataFrame()
    shaped = req.select(
        pl.col("ts"),
        (pl.lit(cluster) if cluster else _col(frame, "cluster")).alias("cluster"),
        _col(frame, "namespace"),
        _col(frame, "pod"),
        _col(frame, "container").fill_null(""),
        k8s_gpu_resource(_col(frame, "resource")).alias("gpu_resource"),
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
