"""costlab's series transforms on the upstream exporters' own exposition (tests/conformance/README.md
names each sample's source): what the exporters really emit must come out as nodes, pod requests
and GPU samples."""

from __future__ import annotations

import json
from datetime import timedelta

import polars as pl
from conformance_samples import HERE, TS, commented_series, frame, read, sample_rows

from costlab.collect import accelerators as acc
from costlab.collect import series
from costlab.collect.prometheus.k8s import node_presence, request_mismatches

STEP = timedelta(seconds=15)


def test_spellings_match_the_upstream_rule_tables():
    karpenter = json.loads((HERE / "karpenter_metrics.json").read_text())
    ksm = json.loads((HERE / "ksm_metrics.json").read_text())
    for resource, value in karpenter["resource_type_rule"]["examples"].items():
        assert acc.karpenter_resource_type(resource) == value
    for resource, value in ksm["resource_value_rule"]["examples"].items():
        assert acc.ksm_resource(resource) == value


def test_ksm_upstream_gpu_request_is_a_pod_request():
    samples, rejected = read("ksm_upstream_tests.prom")
    assert rejected == []
    got = series.pod_requests_from_ksm(samples, STEP, None)
    # pod1_con1 requests resource="nvidia_com_gpu" 1 (pod_test.go); node="" is no label once
    # stored, cpu/memory/storage requests are not GPUs.
    assert got.rows(named=True) == [
        {
            "cluster": "c",
            "namespace": "ns1",
            "pod": "pod1",
            "container": "pod1_con1",
            "gpu_resource": "nvidia.com/gpu",
            "start_ts": TS,
            "end_ts": TS + STEP,
            "node": None,
            "quantity": 1.0,
        }
    ]


def test_ksm_upstream_node_allocatable_makes_a_gpu_node():
    samples, _ = read("ksm_upstream_tests.prom")
    # node_test.go: kube_node_status_allocatable{node="127.0.0.1",resource="nvidia_com_gpu"} 1;
    # no Karpenter series, no kube_node_labels (no allowlist): a node with 1 GPU, nothing else.
    nodes, mismatches = node_presence(samples)
    assert nodes.select("node_name", "resource_type", "value", "instance_type").rows() == [
        ("127.0.0.1", "nvidia.com/gpu", 1.0, None)
    ]
    assert mismatches.height == 0


def test_ksm_node_info_provider_id_gives_zone_and_region():
    samples, _ = read("ksm_upstream_tests.prom")
    # kube_node_info's labels (kube-state-metrics docs/metrics/cluster/node-metrics.md) with an
    # EKS provider_id; the values are made up.
    info, _ = sample_rows(
        'kube_node_info{container_runtime_version="containerd://1.7.27",internal_ip="10.0.3.9",'
        'kernel_version="6.1.132",kubelet_version="v1.32.3-eks-473151a",kubeproxy_version='
        '"deprecated",node="127.0.0.1",os_image="Amazon Linux 2023",pod_cidr="",'
        'provider_id="aws:///us-east-1a/i-0abc1234567890def",system_uuid="ec2abcd"} 1'
    )
    nodes, _ = node_presence(pl.concat([samples, frame(info)], how="diagonal_relaxed"))
    assert nodes.select("node_name", "zone", "region", "value").rows() == [
        ("127.0.0.1", "us-east-1a", "us-east-1", 1.0)
    ]


def test_ksm_upstream_pod_labels():
    samples, _ = read("ksm_upstream_tests.prom")
    pods, namespaces = series.labels_from_ksm(samples)
    assert pods.select("namespace", "pod", "key", "value").rows() == [
        ("ns1", "pod1", "app", "example")
    ]
    assert namespaces.height == 0


def test_karpenter_node_metrics_make_a_node():
    samples, rejected = read("karpenter_synthetic.prom")
    assert rejected == []
    nodes = series.nodes_from_karpenter(samples, STEP, None)
    assert nodes.drop("start_ts", "end_ts").rows(named=True) == [
        {
            "cluster": "c",
            "node": "ip-10-0-1-23.ec2.internal",
            "end_reason": "unknown",
            "nodepool": "gpu",
            "instance_type": "g5.2xlarge",
            "capacity_type": "on-demand",
            "region": "us-east-1",
            "zone": "us-east-1a",
            "gpu_count": 1,
            "gpu_model": "A10G",
        }
    ]
    presence, _ = node_presence(samples)
    assert presence.select("node_name", "resource_type", "value").rows() == [
        ("ip-10-0-1-23.ec2.internal", "nvidia.com/gpu", 1.0)
    ]


def test_kube_state_metrics_spelling_finds_no_karpenter_node():
    """The defect this suite guards: Karpenter keeps the dots and slash."""
    text = (HERE / "karpenter_synthetic.prom").read_text()
    rows, _ = sample_rows(text.replace('resource_type="nvidia.com/gpu"', 'resource_type="x"'))
    assert series.nodes_from_karpenter(frame(rows), STEP, None).height == 0


def test_karpenter_request_total_against_kube_state_metrics():
    samples, _ = read("karpenter_synthetic.prom")
    req, _ = sample_rows(
        'kube_pod_container_resource_requests{container="vllm",namespace="llm",'
        'node="ip-10-0-1-23.ec2.internal",pod="vllm-llama-0",resource="nvidia_com_gpu",'
        'unit="integer",uid="u1"} 1'
    )
    requests = frame(req)
    # Karpenter counts 1 GPU requested on the node, kube-state-metrics 1: no mismatch.
    assert request_mismatches(samples, requests).height == 0
    assert request_mismatches(samples, requests.clear()).rows() == [
        ("c", "ip-10-0-1-23.ec2.internal", "nvidia.com/gpu", TS, 1.0, 0.0)
    ]


def _gpu_rows(samples: pl.DataFrame, node_label: str | None = None) -> list[tuple]:
    got = series.gpu_samples_from_dcgm(samples, step=STEP, node_label=node_label)
    return got.sort("node", "gpu_uuid", "mig_instance_id").select(
        "node", "gpu_index", "gpu_uuid", "mig_instance_id", "mig_profile", "model_name",
        "namespace", "pod", "container", "util_pct", "engine_active_ratio",
    ).rows()  # fmt: skip


A10G_0 = "GPU-11111111-2222-3333-4444-555555555555"
A10G_1 = "GPU-66666666-7777-8888-9999-000000000000"
A100 = "GPU-aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"
NODE_1, NODE_2 = "ip-10-0-1-23.ec2.internal", "ip-10-0-2-7.ec2.internal"


def test_dcgm_exposition_as_the_exporter_writes_it():
    expected = [
        (NODE_1, 0, A10G_0, -1, None, "NVIDIA A10G", "llm", "vllm-llama-0", "vllm", 87.0, 0.912345),
        (NODE_1, 1, A10G_1, -1, None, "NVIDIA A10G", None, None, None, 0.0, None),
        (NODE_2, 0, A100, 9, "1g.10gb", "NVIDIA A100-SXM4-80GB", "team-a", "embedder-5d9f7-abcde",
         "embed", None, 0.41),
    ]  # fmt: skip
    for as_stored in (True, False):
        samples, rejected = read("dcgm_synthetic.prom", as_stored)
        assert rejected == []
        assert _gpu_rows(samples) == expected


def test_dcgm_scraped_with_honor_labels_false():
    """Section B of dcgm_synthetic.prom: the exporter's pod in `pod`, the workload in
    `exported_pod`. The idle GPU's series carries only the exporter's target labels."""
    stored = commented_series("dcgm_synthetic.prom", "DCGM_FI_DEV_GPU_UTIL")
    assert len(stored) == 1
    idle = (
        stored[0]
        .replace('exported_container="vllm",exported_namespace="llm",exported_pod="vllm-llama-0",', "")
        .replace(A10G_0, A10G_1)
        .replace('gpu="0"', 'gpu="1"')
        .replace("} 87", "} 0")
    )  # fmt: skip
    rows, rejected = sample_rows("\n".join([stored[0], idle]))
    assert rejected == []
    assert _gpu_rows(frame(rows)) == [
        (NODE_1, 0, A10G_0, -1, None, "NVIDIA A10G", "llm", "vllm-llama-0", "vllm", 87.0, None),
        (NODE_1, 1, A10G_1, -1, None, "NVIDIA A10G", None, None, None, 0.0, None),
    ]


def test_dcgm_old_namespace_labels():
    # --use-old-namespace: uuid, pod_name, pod_namespace, container_name (dcgm-exporter.md §2)
    rows, _ = sample_rows(
        'DCGM_FI_DEV_GPU_UTIL{gpu="0",uuid="GPU-1",device="nvidia0",modelName="NVIDIA L4",'
        'Hostname="n1",container_name="c",pod_name="p",pod_namespace="ns",namespace="mon",'
        'pod="dcgm-exporter-abcde"} 5'
    )
    assert _gpu_rows(frame(rows)) == [
        ("n1", 0, "GPU-1", -1, None, "NVIDIA L4", "ns", "p", "c", 5.0, None)
    ]


def test_dcgm_upstream_hostname_spellings():
    text = (HERE / "dcgm_upstream_tests.prom").read_text()
    rows, rejected = sample_rows(text)
    # the test-only `test-uuid` key is no Prometheus label name: exactly those lines fail
    assert len(rejected) == 2 and all("test-uuid=" in line for line in rejected)
    gpu = [
        r | {"metric": "DCGM_FI_DEV_GPU_UTIL"}
        for r in rows
        if r["metric"] == "TEST_METRIC" and "modelName" in r
    ]
    # release 4.5.3-4.8.2 writes Hostname, HEAD hostname: both are the node
    assert [next(k for k in ("Hostname", "hostname") if k in r) for r in gpu] == [
        "Hostname",
        "hostname",
    ]
    for r in gpu:
        got = _gpu_rows(frame([r]))
        assert [(g[0], g[2], g[5]) for g in got] == [
            ("testhost", "GPU-00000000-0000-0000-0000-000000000000", "NVIDIA T400 4GB")
        ]
    # README example (older exporters): pod="" is no workload
    readme = [r for r in rows if r["metric"].startswith("DCGM_")]
    assert len(readme) == 2
    raw, _ = sample_rows(text, as_stored=False)
    samples = frame([r | {"metric": "DCGM_FI_DEV_GPU_UTIL"} for r in raw if "pod" in r])
    assert {(r[6], r[7]) for r in _gpu_rows(samples)} == {(None, None)}


def test_dcgm_node_from_a_configured_label():
    rows, _ = sample_rows('DCGM_FI_DEV_GPU_UTIL{gpu="0",UUID="GPU-1",node="n9"} 3')
    assert _gpu_rows(frame(rows))[0][0] is None
    assert _gpu_rows(frame(rows), node_label="node")[0][0] == "n9"


def test_nodes_advertising_only_gpu_slices_are_gpu_nodes():
    """MIG's mixed strategy advertises `nvidia.com/mig-1g.10gb` (Karpenter `nvidia.com/mig_1g.10gb`,
    lower-cased, `-` -> `_`) and the device plugin's renamed time-slicing `nvidia.com/gpu.shared`,
    no `nvidia.com/gpu`: still GPU nodes, their GPUs from Karpenter's `instance_gpu_count`, or
    from DCGM when only kube-state-metrics knows the node."""
    text = (HERE / "karpenter_synthetic.prom").read_text()
    mig = text.replace('resource_type="nvidia.com/gpu"', 'resource_type="nvidia.com/mig_1g.10gb"')
    mig = mig.replace('instance_gpu_count="1"', 'instance_gpu_count="8"')
    rows, _ = sample_rows(mig)
    assert series.nodes_from_karpenter(frame(rows), STEP, None)["gpu_count"].to_list() == [8]
    shared, _ = sample_rows(
        text.replace('resource_type="nvidia.com/gpu"', 'resource_type="nvidia.com/gpu.shared"')
    )
    nodes, _ = node_presence(frame(shared))
    assert nodes.select("node_name", "value").rows() == [("ip-10-0-1-23.ec2.internal", 1.0)]
    ksm, _ = sample_rows(
        'kube_node_status_allocatable{node="n1",resource="nvidia_com_mig_1g_10gb",unit="integer"} 7\n'
        'dcgm_gpus_by_node{Hostname="n1",modelName="NVIDIA A100-SXM4-80GB"} 1'
    )
    nodes, _ = node_presence(frame(ksm))
    assert nodes.select("node_name", "value", "instance_gpu_name").rows() == [("n1", 1.0, "a100")]
