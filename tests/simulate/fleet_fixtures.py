"""Tiny hand-made fleets for the simulator tests: every figure is checkable by hand."""

from __future__ import annotations

from datetime import datetime, timedelta

import pyarrow as pa

from costlab import store

MON = datetime.fromisoformat("2026-03-02T00:00:00+00:00")  # a Monday


def at(hours: float) -> datetime:
    return MON + timedelta(hours=hours)


def add_node(
    conn,
    node,
    start_h,
    end_h,
    *,
    itype="g5.xlarge",
    ctype="on-demand",
    zone="us-east-1a",
    gpus=1,
    pool="gpu",
    end_reason=None,
    gpu_model="A10G",
    mem=22888,
):
    store.upsert(
        conn,
        "nodes",
        pa.Table.from_pylist(
            [
                {
                    "cluster": "c1",
                    "node": node,
                    "start_ts": at(start_h),
                    "end_ts": at(end_h) if end_h is not None else None,
                    "end_reason": end_reason,
                    "nodepool": pool,
                    "instance_type": itype,
                    "capacity_type": ctype,
                    "region": "us-east-1",
                    "zone": zone,
                    "gpu_count": gpus,
                    "gpu_model": gpu_model,
                    "gpu_memory_mib": mem,
                }
            ]
        ),
    )


def add_pod(
    conn, pod, node, start_h, end_h, *, ns="serving", gpus=1.0, kind="inference", labels=None
):
    store.upsert(
        conn,
        "pod_gpu_requests",
        pa.Table.from_pylist(
            [
                {
                    "cluster": "c1",
                    "namespace": ns,
                    "pod": pod,
                    "container": "main",
                    "gpu_resource": "nvidia.com/gpu",
                    "start_ts": at(start_h),
                    "end_ts": at(end_h),
                    "node": node,
                    "quantity": gpus,
                }
            ]
        ),
    )
    rows = [{"cluster": "c1", "namespace": ns, "pod": pod, "key": "workload-kind", "value": kind}]
    rows += [
        {"cluster": "c1", "namespace": ns, "pod": pod, "key": k, "value": v}
        for k, v in (labels or {}).items()
    ]
    store.upsert(conn, "pod_labels", pa.Table.from_pylist(rows))


def add_price(
    conn, itype, usd_micros, *, ctype="on-demand", zone="", source="pricing-api", from_h=-1000
):
    store.upsert(
        conn,
        "prices",
        pa.Table.from_pylist(
            [
                {
                    "instance_type": itype,
                    "region": "us-east-1",
                    "zone": zone,
                    "capacity_type": ctype,
                    "source": source,
                    "effective_from": at(from_h),
                    "usd_micros_per_hour": usd_micros,
                }
            ]
        ),
    )


def add_memory(conn, pod, node, ns, mib_values, start_h=0.0):
    rows = [
        {
            "ts": at(start_h + i / 60),
            "cluster": "c1",
            "node": node,
            "gpu_index": 0,
            "gpu_uuid": "GPU-0",
            "namespace": ns,
            "pod": pod,
            "fb_used_mib": float(v),
        }
        for i, v in enumerate(mib_values)
    ]
    store.upsert(conn, "gpu_samples", pa.Table.from_pylist(rows))
