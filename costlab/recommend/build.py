"""Recommendations from the simulation: Karpenter v1 NodePools, an EC2NodeClass, KEDA ScaledObjects.

Pure and deterministic: plain dicts from simulation results, no clock, no randomness.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from costlab.simulate.base import STRATEGIES, SimInputs, SimResult
from costlab.simulate.combined import CombinedSettings
from costlab.simulate.schedule import ScheduleSettings

NODECLASS = "costlab-gpu"
GPU_TAINT = {"key": "nvidia.com/gpu", "value": "true", "effect": "NoSchedule"}
PROMETHEUS = "http://prometheus-operated.monitoring.svc:9090"


@dataclass
class Recommendations:
    nodepools: list[dict[str, Any]] = field(default_factory=list)
    nodeclasses: list[dict[str, Any]] = field(default_factory=list)
    scaledobjects: list[dict[str, Any]] = field(default_factory=list)
    ranking: list[dict[str, Any]] = field(default_factory=list)


def _families_types(
    inputs: SimInputs, kind: str, extra_types: list[str]
) -> tuple[list[str], list[str]]:
    grid = inputs.fleet
    arr = grid.kind_demand.get(kind)
    types = {
        g.instance_type for i, g in enumerate(grid.groups) if arr is not None and arr[i].sum() > 0
    }
    types |= set(extra_types)
    return sorted({t.split(".")[0] for t in types}), sorted(types)


def _budgets(s: ScheduleSettings) -> list[dict[str, str]]:
    """The schedule strategy's windows as Karpenter budgets (Karpenter reads cron in UTC)."""
    return [
        {"nodes": b.nodes, "schedule": b.schedule or "", "duration": b.duration or ""}
        for b in s.budgets()
    ]


def nodepool(
    name: str,
    *,
    families: list[str],
    types: list[str],
    capacity: list[str],
    gpu_limit: int,
    policy: str,
    after: str,
    budgets: list[dict[str, str]],
    weight: int,
    kind: str,
) -> dict[str, Any]:
    """One Karpenter v1 NodePool for a workload kind (GPU taint, limits on nvidia.com/gpu)."""
    reqs = [
        {"key": "karpenter.sh/capacity-type", "operator": "In", "values": capacity},
        {"key": "karpenter.k8s.aws/instance-family", "operator": "In", "values": families},
        {"key": "node.kubernetes.io/instance-type", "operator": "In", "values": types},
        {"key": "kubernetes.io/arch", "operator": "In", "values": ["amd64"]},
    ]
    return {
        "apiVersion": "karpenter.sh/v1",
        "kind": "NodePool",
        "metadata": {"name": name, "labels": {"app.kubernetes.io/managed-by": "costlab"}},
        "spec": {
            "template": {
                "metadata": {"labels": {"workload-kind": kind}},
                "spec": {
                    "nodeClassRef": {
                        "group": "karpenter.k8s.aws",
                        "kind": "EC2NodeClass",
                        "name": NODECLASS,
                    },
                    "requirements": reqs,
                    "taints": [dict(GPU_TAINT)],
                    "expireAfter": "720h",
                },
            },
            "limits": {"nvidia.com/gpu": gpu_limit},
            "disruption": {
                "consolidationPolicy": policy,
                "consolidateAfter": after,
                "budgets": budgets,
            },
            "weight": weight,
        },
    }


def nodeclass(cluster: str) -> dict[str, Any]:
    """The EC2NodeClass the NodePools reference (AL2023 GPU AMI alias, discovery tags)."""
    tags = {"karpenter.sh/discovery": cluster}
    return {
        "apiVersion": "karpenter.k8s.aws/v1",
        "kind": "EC2NodeClass",
        "metadata": {"name": NODECLASS},
        "spec": {
            "amiSelectorTerms": [{"alias": "al2023@latest"}],
            "role": f"KarpenterNodeRole-{cluster}",
            "subnetSelectorTerms": [{"tags": dict(tags)}],
            "securityGroupSelectorTerms": [{"tags": dict(tags)}],
            "blockDeviceMappings": [
                {
                    "deviceName": "/dev/xvda",
                    "ebs": {"volumeSize": "200Gi", "volumeType": "gp3", "encrypted": True},
                }
            ],
        },
    }


def scaledobject(workload: str, min_replicas: int, max_replicas: int) -> dict[str, Any]:
    """KEDA ScaledObject for an inference Deployment: DCGM utilisation and pending requests."""
    namespace, name = workload.split("/", 1)
    pods = f'namespace="{namespace}",pod=~"{name}-.*"'
    return {
        "apiVersion": "keda.sh/v1alpha1",
        "kind": "ScaledObject",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": name},
            "minReplicaCount": min_replicas,
            "maxReplicaCount": max_replicas,
            "pollingInterval": 30,
            "cooldownPeriod": 300,
            "triggers": [
                {
                    "type": "prometheus",
                    "name": "gpu-utilisation",
                    "metricType": "AverageValue",
                    "metadata": {
                        "serverAddress": PROMETHEUS,
                        "threshold": "70",
                        "query": f"avg(DCGM_FI_DEV_GPU_UTIL{{{pods}}})",
                    },
                },
                {
                    "type": "prometheus",
                    "name": "pending-requests",
                    "metricType": "AverageValue",
                    "metadata": {
                        "serverAddress": PROMETHEUS,
                        "threshold": "5",
                        "query": f"sum(vllm:num_requests_waiting{{{pods}}})",
                    },
                },
            ],
        },
    }


def scaling_headroom(inputs: SimInputs, min_headroom: float = 0.3) -> list[tuple[str, int, int]]:
    """Inference workloads whose replica count varies: (workload, min, max) from p10 and peak."""
    grid = inputs.fleet
    kinds = {
        r["workload"]: (r["kind"], r["gpus_per_pod"])
        for r in inputs.workloads.iter_rows(named=True)
    }
    per_wl: dict[str, np.ndarray] = {}
    for i, (wl, _) in enumerate(grid.wl_index):
        per_wl[wl] = per_wl.get(wl, 0) + grid.wl_demand[i]
    out = []
    for wl in sorted(per_wl):
        kind, gpp = kinds.get(wl, ("", 1.0))
        if kind != "inference" or not gpp:
            continue
        replicas = per_wl[wl] / gpp
        peak = float(replicas.max())
        low = float(np.percentile(replicas, 10))
        if peak >= 2 - 1e-9 and 1 - low / peak >= min_headroom:
            out.append((wl, max(1, math.floor(low + 1e-9)), math.ceil(peak - 1e-9)))
    return out


def build(
    inputs: SimInputs,
    results: list[SimResult],
    cluster: str = "costlab",
    settings: CombinedSettings | None = None,
) -> Recommendations:
    """NodePools per workload kind, the EC2NodeClass, ScaledObjects, and the ranking by $/month.

    Schedules and consolidateAfter come from the same settings the simulation ran with."""
    by = {r.strategy: r for r in results}
    rec = Recommendations()
    cfg = settings or CombinedSettings()
    sched = cfg.schedule
    cons = cfg.consolidation
    picks = sorted(
        {
            d["recommended_type"]
            for d in (by["rightsize"].details if "rightsize" in by else [])
            if d.get("recommended_type")
        }
    )
    grid = inputs.fleet
    for kind, weight in (("inference", 50), ("training", 10)):
        arr = grid.kind_demand.get(kind)
        if arr is None or arr.sum() <= 0:
            continue
        extra = picks if kind == "inference" else []
        fams, types = _families_types(inputs, kind, extra)
        peak = float(arr.sum(axis=0).max())
        limit = max(1, math.ceil(peak * 1.25 - 1e-9))
        if kind == "inference":
            rec.nodepools.append(
                nodepool(
                    "costlab-gpu-inference",
                    families=fams,
                    types=types,
                    capacity=["spot", "on-demand"],
                    gpu_limit=limit,
                    policy="WhenEmptyOrUnderutilized",
                    after=f"{sched.consolidate_after_minutes}m",
                    budgets=_budgets(sched),
                    weight=weight,
                    kind=kind,
                )
            )
        else:
            rec.nodepools.append(
                nodepool(
                    "costlab-gpu-training",
                    families=fams,
                    types=types,
                    capacity=["on-demand"],
                    gpu_limit=limit,
                    policy="WhenEmpty",
                    after=f"{cons.consolidate_after_minutes}m",
                    budgets=[{"nodes": "1"}],
                    weight=weight,
                    kind=kind,
                )
            )
    if rec.nodepools:
        rec.nodeclasses.append(nodeclass(cluster))
    for wl, lo, hi in scaling_headroom(inputs):
        rec.scaledobjects.append(scaledobject(wl, lo, hi))
    for r in results:
        if r.strategy == "all":
            continue
        rec.ranking.append(
            {
                "strategy": r.strategy,
                "savings_per_month_usd_micros": r.savings_per_month_usd_micros,
                "savings_pct": round(100 * r.savings_ratio, 2),
                "risk": STRATEGIES[r.strategy].risk if r.strategy in STRATEGIES else "medium",
                "risk_figures": {k: round(v, 3) for k, v in sorted(r.risk.items())},
            }
        )
    order = {"low": 0, "medium": 1, "high": 2}
    rec.ranking.sort(
        key=lambda x: (-x["savings_per_month_usd_micros"], order[x["risk"]], x["strategy"])
    )
    return rec
