"""Tiny fleets for the allocation tests: build rows in a few lines, load them the collectors' way."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import polars as pl

from costlab.collect import sink

T0 = datetime(2026, 11, 2, 0, 0, tzinfo=UTC)


def at(hours: float) -> datetime:
    return T0 + timedelta(hours=hours)


def price(
    conn,
    instance_type,
    usd_per_hour,
    *,
    capacity="on-demand",
    zone="",
    source="manual",
    since=-100.0,
):
    sink.load(
        conn,
        "prices",
        pl.DataFrame(
            [
                {
                    "instance_type": instance_type,
                    "region": "us-east-1",
                    "zone": zone,
                    "capacity_type": capacity,
                    "source": source,
                    "effective_from": at(since),
                    "usd_micros_per_hour": round(usd_per_hour * 1_000_000),
                }
            ]
        ),
    )


def node(
    conn,
    name,
    instance_type,
    gpus,
    start,
    end,
    *,
    capacity="on-demand",
    zone="us-east-1a",
    cluster="c1",
    nodepool="pool",
    gpu_model="A100",
):
    sink.load(
        conn,
        "nodes",
        pl.DataFrame(
            [
                {
                    "cluster": cluster,
                    "node": name,
                    "start_ts": at(start),
                    "end_ts": None if end is None else at(end),
                    "end_reason": None if end is None else "consolidated",
                    "nodepool": nodepool,
                    "instance_type": instance_type,
                    "capacity_type": capacity,
                    "region": "us-east-1",
                    "zone": zone,
                    "gpu_count": gpus,
                    "gpu_model": gpu_model,
                }
            ],
            schema_overrides={"end_ts": pl.Datetime("us", "UTC"), "end_reason": pl.String},
        ),
    )


def pod(
    conn,
    namespace,
    name,
    node_name,
    start,
    end,
    quantity,
    *,
    resource="nvidia.com/gpu",
    cluster="c1",
    labels=None,
):
    sink.load(
        conn,
        "pod_gpu_requests",
        pl.DataFrame(
            [
                {
                    "cluster": cluster,
                    "namespace": namespace,
                    "pod": name,
                    "container": "main",
                    "gpu_resource": resource,
                    "start_ts": at(start),
                    "end_ts": at(end),
                    "node": node_name,
                    "quantity": float(quantity),
                }
            ]
        ),
    )
    if labels:
        sink.load(
            conn,
            "pod_labels",
            pl.DataFrame(
                [
                    {"cluster": cluster, "namespace": namespace, "pod": name, "key": k, "value": v}
                    for k, v in labels.items()
                ]
            ),
        )


def team(conn, namespace, team_name, cluster="c1"):
    sink.load(
        conn,
        "namespace_labels",
        pl.DataFrame(
            [{"cluster": cluster, "namespace": namespace, "key": "team", "value": team_name}]
        ),
    )


def dcgm(
    conn,
    node_name,
    gpu_index,
    start,
    end,
    util_pct,
    *,
    namespace=None,
    pod_name=None,
    cluster="c1",
    step_s=60,
):
    """One GPU's samples every step_s seconds in [start, end) hours, constant utilisation."""
    n = round((end - start) * 3600 / step_s)
    sink.load(
        conn,
        "gpu_samples",
        pl.DataFrame(
            {
                "ts": [at(start) + timedelta(seconds=step_s * i) for i in range(n)],
                "cluster": cluster,
                "node": node_name,
                "gpu_index": gpu_index,
                "gpu_uuid": f"GPU-{node_name}-{gpu_index}",
                "namespace": namespace,
                "pod": pod_name,
                "util_pct": float(util_pct),
            },
            schema_overrides={"namespace": pl.String, "pod": pl.String},
        ),
    )


def observation(
    conn,
    oid,
    model,
    start,
    input_tokens,
    output_tokens,
    *,
    tenant="t",
    user="u",
    session="s",
    list_cost_micros=None,
):
    sink.load(
        conn,
        "llm_observations",
        pl.DataFrame(
            [
                {
                    "observation_id": oid,
                    "trace_id": f"trace-{oid}",
                    "session_id": session,
                    "user_id": user,
                    "tenant": tenant,
                    "model": model,
                    "deployment": model,
                    "start_ts": at(start),
                    "input_tokens": input_tokens,
                    "output_tokens": output_tokens,
                    "total_tokens": input_tokens + output_tokens,
                    "langfuse_cost_usd_micros": list_cost_micros,
                }
            ],
            schema_overrides={"langfuse_cost_usd_micros": pl.Int64},
        ),
    )
