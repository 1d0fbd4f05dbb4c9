"""A small hand-checked fleet as Prometheus series (real metric and label names), 2 hours at 15 s.

T0 = 2026-11-01T00:00Z, step i = T0 + 15 s x i, i in [0, 480).

- node-a: p4d.24xlarge on-demand, us-east-1a, nodepool gpu, 8 A100, alive the whole window.
  GPU-a0 (gpu 0, whole GPU) misses scrapes i in [300, 320): a gap [T0+75m, T0+80m).
  GPU-a1 (gpu 1) is MIG: instances GPU_I_ID 1 and 2, profile 1g.10gb.
- node-b: g5.12xlarge spot, us-east-1b, nodepool spot, 4 A10G; interrupted: last sample i=199,
  so it lives [T0, T0+50m); karpenter_nodeclaims_disrupted_total{reason="spot_interrupted"}
  steps up at i=199.
- node-c: g5.12xlarge spot, us-east-1b, from i=220 (T0+55m) to the end in Karpenter and
  kube_node_labels; its GPU-c0 reports to DCGM from i=215: one node from T0+53m45s, Karpenter's
  attributes (a window ending before i=220 sees it as a DCGM-only node; a later one fixes it).
- pods: team-a/train-0 (4 x nvidia.com/gpu) on node-b i in [0, 200), then on node-c i in [222, 480);
  team-b/infer-0 (1 x nvidia.com/mig-1g.10gb) on node-a the whole window;
  team-b/pending-0 requests a GPU with node="" (pending: holds nothing).
- prices: p4d.24xlarge on-demand us-east-1a 21.96 $/h; g5.12xlarge spot us-east-1b 2.10 then 2.30
  from i=240 (T0+60m).
- karpenter_nodes_terminated_total{nodepool="spot"} resets to 0 at i=400 (exporter restart).
- kube_node_labels for node-a/b/c (node-b's capacity-type label says on-demand: a mismatch warning,
  Karpenter's spot is kept; node-c's Karpenter series lacks instance_gpu_name, the node label
  karpenter.k8s.aws/instance-gpu-name fills it), for node-d and for cpu-0.
- node-d: not Karpenter (EKS managed node group ng-t4, eks.amazonaws.com/capacityType=SPOT,
  g4dn.xlarge, us-east-1c, no region label): seen only through kube_node_labels and DCGM (GPU-d0,
  Tesla T4) the whole window -> a nodes row (spot, us-east-1, 1 x T4).
- cpu-0: kube_node_labels only, no GPUs: not a nodes row.
- node-e: seen only by dcgm-exporter (no Karpenter series, no kube_node_labels: e.g. a
  self-managed node group), GPU-e0 and GPU-e1 (NVIDIA L4) for i in [40, 400) -> a nodes row
  [T0+10m, T0+100m) with 2 x L4 and instance type, capacity type and region 'unknown', plus a
  node-without-karpenter-labels row in collection_gaps over the same time.
- team-b/notebook-0 (1 x nvidia.com/gpu, StatefulSet notebook) has no `node` label on its request
  series (old kube-state-metrics): kube_pod_info puts it on node-d.
- kube_pod_info for every pod, plus team-c/web-0 that requests no GPU (not fetched).
- karpenter_nodes_total_pod_requests{resource_type="nvidia.com/gpu"}: node-b 4, node-c 4 but 8 for
  i in [300, 310): a request-mismatch [T0+75m, T0+77m30s); node-a 0 (its pod requests MIG).
- infer-0's pod label model is "llama" before i=240 and "llama-3" from then on.
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
    b_idx, c_idx, e_idx = range(0, 200), range(220, N), range(40, 400)
    gpus = [
        ("node-a", "0", "GPU-a0", None, "NVIDIA A100-SXM4-40GB", a0, True),
        ("node-a", "1", "GPU-a1", ("1", "1g.10gb"), "NVIDIA A100-SXM4-40GB", every, True),
        ("node-a", "1", "GPU-a1", ("2", "1g.10gb"), "NVIDIA A100-SXM4-40GB", every, True),
        ("node-b", "0", "GPU-b0", None, "NVIDIA A10G", b_idx, False),
        ("node-c", "0", "GPU-c0", None, "NVIDIA A10G", range(215, N), False),
        ("node-d", "0", "GPU-d0", None, "Tesla T4", every, False),
        ("node-e", "0", "GPU-e0", None, "NVIDIA L4", e_idx, False),
        ("node-e", "1", "GPU-e1", None, "NVIDIA L4", e_idx, False),
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
        labels = {
            "node": name,
            "label_karpenter_sh_nodepool": pool,
            "label_karpenter_sh_capacity_type": "on-demand" if name == "node-b" else cap,
            "label_node_kubernetes_io_instance_type": itype,
            "label_topology_kubernetes_io_zone": zone,
            "label_topology_kubernetes_io_region": "us-east-1",
            "label_karpenter_k8s_aws_instance_gpu_name": gname,
        }
        out.append(_s("kube_node_labels", labels, idx, 1.0))
        base = {
            "node_name": name,
            "nodepool": pool,
            "capacity_type": cap,
            "instance_type": itype,
            "zone": zone,
            "region": "us-east-1",
            "arch": "amd64",
            "os": "linux",
            "managed": "true",
            "instance_gpu_name": gname,
            "instance_gpu_count": str(count),
        }
        if name == "node-c":
            del base["instance_gpu_name"]
        out.append(
            _s(
                "karpenter_nodes_allocatable",
                base | {"resource_type": "nvidia.com/gpu"},
                idx,
                float(count),
            )
        )
        out.append(_s("karpenter_nodes_allocatable", base | {"resource_type": "cpu"}, idx, 90.0))
    ng = {
        "node": "node-d",
        "label_eks_amazonaws_com_nodegroup": "ng-t4",
        "label_eks_amazonaws_com_capacity_type": "SPOT",
        "label_node_kubernetes_io_instance_type": "g4dn.xlarge",
        "label_topology_kubernetes_io_zone": "us-east-1c",
    }
    out.append(_s("kube_node_labels", ng, every, 1.0))
    cpu = {"node": "cpu-0", "label_node_kubernetes_io_instance_type": "m5.large"}
    out.append(_s("kube_node_labels", cpu, every, 1.0))
    totals = [
        ("node-a", "gpu", every, 0.0),
        ("node-b", "spot", b_idx, 4.0),
        ("node-c", "spot", c_idx, lambda i: 0.0 if i < 222 else 8.0 if 300 <= i < 310 else 4.0),
    ]
    for name, pool, idx, value in totals:
        labels = {"node_name": name, "nodepool": pool, "resource_type": "nvidia.com/gpu"}
        out.append(_s("karpenter_nodes_total_pod_requests", labels, idx, value))
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
            req,
            {
                "namespace": "team-b",
                "pod": "notebook-0",
                "container": "jupyter",
                "resource": "nvidia_com_gpu",
                "unit": "integer",
                "uid": "u5",
            },
            every,
            1.0,
        )
    )
    pods = [
        ("team-a", "train-0", "u1", "node-b", "Job", "train", range(0, 200)),
        ("team-a", "train-0", "u2", "node-c", "Job", "train", range(222, N)),
        ("team-b", "infer-0", "u3", "node-a", "ReplicaSet", "infer-6d4f", every),
        ("team-b", "pending-0", "u4", "", "ReplicaSet", "pending-7c9b", every),
        ("team-b", "notebook-0", "u5", "node-d", "StatefulSet", "notebook", every),
        ("team-c", "web-0", "u6", "node-d", "ReplicaSet", "web-5f7d", every),
    ]
    for ns, pod, uid, node, kind, owner, idx in pods:
        info = {
            "namespace": ns,
            "pod": pod,
            "uid": uid,
            "node": node,
            "host_ip": f"10.0.0.{uid[1:]}" if node else "",
            "pod_ip": f"10.1.0.{uid[1:]}",
            "created_by_kind": kind,
            "created_by_name": owner,
            "priority_class": "",
            "host_network": "false",
        }
        out.append(_s("kube_pod_info", info, idx, 1.0))
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
    for model, idx in (("llama", range(0, 240)), ("llama-3", range(240, N))):
        out.append(
            _s(
                "kube_pod_labels",
                {"namespace": "team-b", "pod": "infer-0", "uid": "u3", "label_model": model},
                idx,
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
