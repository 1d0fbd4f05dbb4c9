"""One small GPU fleet, scraped at several intervals: each scrape setup is its own `cluster`.

Label shapes are upstream's (shared/conformance): dcgm-exporter without Kubernetes pod mapping
(`gpu`, `UUID`, `pci_bus_id`, `device`, `modelName`, `Hostname`, `DCGM_FI_DRIVER_VERSION`; see
dcgm-exporter's `etc/default-counters.csv` and its `pkg/counters` label names), scraped by a static
job (`job`, `instance`); kube-state-metrics `kube_node_labels` with
`--metric-labels-allowlist=nodes=[...]` (EKS managed node groups: `eks.amazonaws.com/capacityType`
-> `label_eks_amazonaws_com_capacity_type`), `kube_pod_container_resource_requests`
(`resource="nvidia_com_gpu"`, `unit="integer"`) and `kube_pod_info`. The `cluster` label is what
a Thanos/Mimir external label adds. No Karpenter series: nodes come from node labels + DCGM.

T0 = 2026-11-01T00:00Z; the collected window is [T0, T0 + 2h). Series run from T0 - 10m, so every
step of the window has its scrapes.

- ip-10-0-1-23.ec2.internal: g5.12xlarge on-demand (node group gpu-od), us-east-1a, 4 x A10G, the
  whole window; pod team-a/train-0 requests its 4 GPUs the whole window.
- ip-10-0-2-51.ec2.internal ("short" clusters only): g5.xlarge spot (node group gpu-spot),
  us-east-1b, 1 x A10G, until T0 + 1h (its last scrape is the last one before T0 + 1h); pod
  team-b/infer-0 requests its GPU for as long.

Hand-computed with manual prices g5.12xlarge on-demand $5.672/h and g5.xlarge spot $0.40/h:
node A 4 GPUs x 2 h = 8 GPU-hours, $11.344 (team-a); node B 1 GPU x 1 h = 1 GPU-hour, $0.40
(team-b). DCGM: 8 (+1) GPU-hours of samples.

A node's end is the grid point after its last scrape, so exact hand-computed ends need scrapes on
the grid: jittered and mixed-interval clusters hold only the whole-window node.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

T0 = datetime(2026, 11, 1, tzinfo=UTC)
END = T0 + timedelta(hours=2)
FIRST = T0 - timedelta(minutes=10)
LAST = END + timedelta(minutes=10)
NODE_A, NODE_B = "ip-10-0-1-23.ec2.internal", "ip-10-0-2-51.ec2.internal"
B_END = T0 + timedelta(hours=1)


@dataclass(frozen=True)
class Scrape:
    cluster: str
    dcgm_s: int  # dcgm-exporter job scrape interval
    ksm_s: int  # kube-state-metrics job scrape interval
    jitter_s: float = 0.0  # each scrape lands up to this far before or after its tick
    short: bool = True  # include node B (ends at T0 + 1h)


CLUSTERS = (
    Scrape("scrape-15s", 15, 15),
    Scrape("scrape-30s", 30, 30),
    Scrape("scrape-60s", 60, 60),
    Scrape("jitter-15s", 15, 15, jitter_s=2.0, short=False),
    Scrape("mixed-15s-60s", 15, 60, short=False),
)


def _scrapes(every_s: int, jitter_s: float, rng: random.Random) -> list[tuple[datetime, datetime]]:
    """One scrape target's (tick, sample timestamp) pairs from FIRST to LAST."""
    out, tick = [], FIRST
    while tick < LAST:
        j = rng.uniform(-jitter_s, jitter_s) if jitter_s else 0.0
        out.append((tick, tick + timedelta(milliseconds=round(j * 1000))))
        tick += timedelta(seconds=every_s)
    return out


def _until(scrapes: list[tuple[datetime, datetime]], until: datetime) -> list[datetime]:
    return [t for tick, t in scrapes if tick < until]


def fleet_series(scrapes: tuple[Scrape, ...] = CLUSTERS) -> list:
    out: list = []
    for sc in scrapes:
        rng = random.Random(sc.cluster)
        nodes = [(NODE_A, "gpu-od", "ON_DEMAND", "g5.12xlarge", "us-east-1a", 4, LAST)]
        pods = [("team-a", "train-0", "u-a", NODE_A, 4.0, LAST)]
        if sc.short:
            nodes.append((NODE_B, "gpu-spot", "SPOT", "g5.xlarge", "us-east-1b", 1, B_END))
            pods.append(("team-b", "infer-0", "u-b", NODE_B, 1.0, B_END))
        c = {"cluster": sc.cluster}
        ksm_scrapes = _scrapes(sc.ksm_s, sc.jitter_s, rng)  # one kube-state-metrics target
        for ni, (node, group, cap, itype, zone, gpus, until) in enumerate(nodes):
            ksm = _until(ksm_scrapes, until)
            labels = c | {
                "job": "kube-state-metrics",
                "instance": "10.0.0.10:8080",
                "node": node,
                "label_eks_amazonaws_com_nodegroup": group,
                "label_eks_amazonaws_com_capacity_type": cap,
                "label_node_kubernetes_io_instance_type": itype,
                "label_topology_kubernetes_io_zone": zone,
                "label_topology_kubernetes_io_region": "us-east-1",
            }
            out.append(("kube_node_labels", labels, [(t, 1.0) for t in ksm]))
            dcgm = _until(_scrapes(sc.dcgm_s, sc.jitter_s, rng), until)  # one exporter per node
            for g in range(gpus):
                labels = c | {
                    "job": "dcgm-exporter",
                    "instance": f"10.0.{ni + 1}.45:9400",
                    "gpu": str(g),
                    "UUID": f"GPU-{ni}{g}000000-2222-3333-4444-555555555555",
                    "pci_bus_id": f"00000000:00:{0x1E + g:02X}.0",
                    "device": f"nvidia{g}",
                    "modelName": "NVIDIA A10G",
                    "Hostname": node,
                    "DCGM_FI_DRIVER_VERSION": "550.54.15",
                }
                for metric, value in (
                    ("DCGM_FI_DEV_GPU_UTIL", 50.0),
                    ("DCGM_FI_DEV_FB_USED", 1024.0),
                    ("DCGM_FI_DEV_FB_FREE", 21504.0),
                    ("DCGM_FI_DEV_POWER_USAGE", 150.5),
                    ("DCGM_FI_DEV_GPU_TEMP", 55.0),
                ):
                    out.append((metric, labels, [(t, value) for t in dcgm]))
        for ns, pod, uid, node, gpus, until in pods:
            ksm = _until(ksm_scrapes, until)
            ksm_job = c | {"job": "kube-state-metrics", "instance": "10.0.0.10:8080"}
            request = ksm_job | {
                "namespace": ns,
                "pod": pod,
                "uid": uid,
                "container": "main",
                "node": node,
                "resource": "nvidia_com_gpu",
                "unit": "integer",
            }
            out.append(("kube_pod_container_resource_requests", request, [(t, gpus) for t in ksm]))
            info = ksm_job | {
                "namespace": ns,
                "pod": pod,
                "uid": uid,
                "node": node,
                "host_ip": "10.0.1.23",
                "pod_ip": "10.1.0.7",
                "created_by_kind": "Job",
                "created_by_name": pod.rsplit("-", 1)[0],
                "priority_class": "",
                "host_network": "false",
            }
            out.append(("kube_pod_info", info, [(t, 1.0) for t in ksm]))
    return out
