"""A small hand-checked fleet as Prometheus series (real metric and label names), 2 hours at 15 s.

T0 = 2026-11-01T00:00Z, step i = T0 + 15 s x i, i in [0, 480).

- node-a: p4d.24xlarge on-demand, us-east-1a, nodepool gpu, 8 A100, alive the whole window.
  GPU-a0 (gpu 0, whole GPU) misses scrapes i in [300, 320): a gap [T0+75m, T0+80m).
  GPU-a1 (gpu 1) is MIG: instances GPU_I_ID 1 and 2, profile 1g.10gb.
- node-b: g5.12xlarge spot, us-east-1b, nodepool spot, 4 A10G; interrupted: last sample i=199,
  so it lives [T0, T0+50m); karpenter_nodeclaims_disrupted_total{reason="spot_interrupted"}
  steps up at i=199.
- node-c: g5.12xlarge spot, us-east-1b, from i=220 (T0+55m) to the end.
- pods: team-a/train-0 (4 x nvidia.com/gpu) on node-b i in [0, 200), then on node-c i in [222, 480);
  team-b/infer-0 (1 x nvidia.com/mig-1g.10gb) on node-a the whole window;
  team-b/pending-0 requests a GPU with node="" (pending: holds nothing).
- prices: p4d.24xlarge on-demand us-east-1a 21.96 $/h; g5.12xlarge spot us-east-1b 2.10 then 2.30
  from i=240 (T0+60m).
- karpenter_nodes_terminated_total{nodepool="spot"} resets to 0 at i=400 (exporter restart).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

T0 = datetime(2026, 11, 1, tzinfo=UTC)
STEP = timedelta(seconds=15)
N = 480


def at(i: int) -> datetime:
    return T0 + STEP * i


def _s(
    metric: str, labels: dict[str, str], idx, value
) -> tuple[str, dict[str, str], list[tuple[datetime, float]]]:
    return metric, labels, [(at(i), value(i) if callable(value) else value) for i in idx]


def fleet_series() -> list:
    out = []
    every = range(N)
    a0 = [i for i in every if not 300 <= i < 320]
    b_idx, c_idx = range(0, 200), range(220, N)
    gpus = [
        ("node-a", "0", "GPU-a0", None, "NVIDIA A100-SXM4-40GB", a0, True),
        ("node-a", "1", "GPU-a1", ("1", "1g.10gb"), "NVIDIA A100-SXM4-40GB", every, True),
        ("node-a", "1", "GPU-a1", ("2", "1g.10gb"), "NVIDIA A100-SXM4-40GB", every, True),
        ("node-b", "0", "GPU-b0", None, "NVIDIA A10G", b_idx, False),
        ("node-c", "0", "GPU-c0", None, "NVIDIA A10G", c_idx, False),
    ]
    for host, gpu, uuid, mig, model, idx, prof in gpus:
        labels = {
            "gpu": gpu,
            "UUID": uuid,
            "modelName": model,
            "Hostname": host,
            "device": f"nvidia{gpu}",
        }
        if mig:
            labels |= {"GPU_I_ID": mig[0], "GPU_I_PROFILE": mig[1]}
        if host == "node-a" and mig and mig[0] == "1":
            labels |= {"namespace": "team-b", "pod": "infer-0", "container": "server"}
        if not mig:
            out.append(_s("DCGM_FI_DEV_GPU_UTIL", labels, idx, lambda i: float(i % 100)))
            out.append(_s("DCGM_FI_DEV_POWER_USAGE", labels, idx, 250.5))
            out.append(_s("DCGM_FI_DEV_GPU_TEMP", labels, idx, 60.0))
        out.append(_s("DCGM_FI_DEV_FB_USED", labels, idx, 1024.0))
        out.append(_s("DCGM_FI_DEV_FB_FREE", labels, idx, 9216.0))
        if prof:
            out.append(_s("DCGM_FI_PROF_GR_ENGINE_ACTIVE", labels, idx, 0.5))
    nodes = [
        ("node-a", "gpu", "on-demand", "p4d.24xlarge", "us-east-1a", "a100", 8, every),
        ("node-b", "spot", "spot", "g5.12xlarge", "us-east-1b", "a10g", 4, b_idx),
        ("node-c", "spot", "spot", "g5.12xlarge", "us-east-1b", "a10g", 4, c_idx),
    ]
    for name, pool, cap, itype, zone, gname, count, idx in nodes:
        base = {
            "node_name": name,
            "nodepool": pool,
            "capacity_type": cap,
            "instance_type": itype,
            "zone": zone,
            "region": "us-east-1",
            "arch": "amd64",
            "os": "linux",
            "phase": "Running",
            "managed": "true",
            "instance_gpu_name": gname,
            "instance_gpu_count": str(count),
        }
        out.append(
            _s(
                "karpenter_nodes_allocatable",
                base | {"resource_type": "nvidia_com_gpu"},
                idx,
                float(count),
            )
        )
        out.append(_s("karpenter_nodes_allocatable", base | {"resource_type": "cpu"}, idx, 90.0))
    out.append(
        _s(
            "karpenter_nodeclaims_disrupted_total",
            {"nodepool": "spot", "reason": "spot_interrupted"},
            every,
            lambda i: 0.0 if i < 199 else 1.0,
        )
    )
    out.append(
        _s(
            "karpenter_nodes_created_total",
            {"nodepool": "spot", "zone": "us-east-1b"},
            every,
            lambda i: 1.0 if i < 220 else 2.0,
        )
    )
    out.append(
        _s(
            "karpenter_nodes_terminated_total",
            {"nodepool": "spot", "zone": "us-east-1b"},
            every,
            lambda i: (0.0 if i < 200 else 1.0) if i < 400 else 0.0,
        )
    )
    req = "kube_pod_container_resource_requests"
    out.append(
        _s(
            req,
            {
                "namespace": "team-a",
                "pod": "train-0",
                "container": "main",
                "node": "node-b",
                "resource": "nvidia_com_gpu",
                "unit": "integer",
                "uid": "u1",
            },
            range(0, 200),
            4.0,
        )
    )
    out.append(
        _s(
            req,
            {
                "namespace": "team-a",
                "pod": "train-0",
                "container": "main",
                "node": "node-c",
                "resource": "nvidia_com_gpu",
                "unit": "integer",
                "uid": "u2",
            },
            range(222, N),
            4.0,
        )
    )
    out.append(
        _s(
            req,
            {
                "namespace": "team-a",
                "pod": "train-0",
                "container": "main",
                "node": "node-c",
                "resource": "cpu",
                "unit": "core",
                "uid": "u2",
            },
            range(222, N),
            8.0,
        )
    )
    out.append(
        _s(
            req,
            {
                "namespace": "team-b",
                "pod": "infer-0",
                "container": "server",
                "node": "node-a",
                "resource": "nvidia_com_mig_1g_10gb",
                "unit": "integer",
                "uid": "u3",
            },
            every,
            1.0,
        )
    )
    out.append(
        _s(
            req,
            {
                "namespace": "team-b",
                "pod": "pending-0",
                "container": "main",
                "node": "",
                "resource": "nvidia_com_gpu",
                "unit": "integer",
                "uid": "u4",
            },
            every,
            1.0,
        )
    )
    out.append(
        _s(
            "kube_pod_labels",
            {
                "namespace": "team-a",
                "pod": "train-0",
                "uid": "u1",
                "label_team": "research",
                "label_app_kubernetes_io_name": "trainer",
            },
            range(0, 200),
            1.0,
        )
    )
    out.append(
        _s(
            "kube_pod_labels",
            {"namespace": "team-b", "pod": "infer-0", "uid": "u3", "label_model": "llama"},
            every,
            1.0,
        )
    )
    out.append(
        _s("kube_namespace_labels", {"namespace": "team-a", "label_team": "research"}, every, 1.0)
    )
    price = "karpenter_cloudprovider_instance_type_offering_price_estimate"
    out.append(
        _s(
            price,
            {"instance_type": "p4d.24xlarge", "capacity_type": "on-demand", "zone": "us-east-1a"},
            every,
            21.96,
        )
    )
    out.append(
        _s(
            price,
            {"instance_type": "g5.12xlarge", "capacity_type": "spot", "zone": "us-east-1b"},
            every,
            lambda i: 2.10 if i < 240 else 2.30,
        )
    )
    return out


# Everything is written as a gauge: promtool stores samples the same way, and OpenMetrics would
# want counter families named without the `_total` suffix.
TYPES: dict[str, str] = {}
