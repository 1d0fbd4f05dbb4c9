"""`costlab doctor` against a real Prometheus holding small fleets in the upstream shapes.

The fleets (one per `cluster` label value, 30 minutes at 15 s) are described in doctor_fleet.py.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from doctor_fleet import END, EXPORTER_PODS, KARP_NODE, MNG_NODE, STEP, TYPES, fleet_series
from prom_server import PromServer, build_blocks, write_openmetrics
from prom_snapshot import settings

from costlab.doctor import doctor
from costlab.doctor.checks import (
    ALLOWLIST,
    CHECKS,
    DCGM_PROF_FIX,
    HOSTNAME_FIX,
    KARPENTER_RESPELLED_FIX,
    MAPPING_FIX,
)
from costlab.doctor.probe import Report, Result
from costlab.errors import UsageError

pytestmark = pytest.mark.service

COSTLAB = str(Path(sys.executable).parent / "costlab")  # the console script `uv run costlab` runs


@pytest.fixture(scope="module")
def prom(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PromServer]:
    root = tmp_path_factory.mktemp("prom-doctor")
    om = root / "fleet.om"
    write_openmetrics(om, fleet_series(), TYPES)
    build_blocks(om, root / "data")
    with PromServer(root / "data") as server:
        yield server


def check(prom: PromServer, cluster: str) -> Report:
    return doctor(settings(prom.url), cluster=cluster, at=END)


def by_key(report: Report) -> dict[str, Result]:
    return {r.check.key: r for r in report.results}


def statuses(report: Report) -> dict[str, str]:
    return {r.check.key: r.status for r in report.results}


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([COSTLAB, "doctor", *args], capture_output=True, text=True, timeout=300)


def test_healthy_fleet_is_all_found(prom):
    report = check(prom, "healthy")
    assert report.problems == [] and report.exit_code == 0
    assert statuses(report) == {c.key: "found" for c in CHECKS}
    assert {r.severity for r in report.results} == {"ok"}
    assert {r.interval_s for r in report.results} == {15.0}
    assert {r.last_seen for r in report.results} == {END - STEP}
    results = by_key(report)
    assert results["karpenter-allocatable"].sample == {
        "cluster": "healthy",
        "node_name": KARP_NODE,
        "nodepool": "gpu",
        "capacity_type": "on-demand",
        "instance_type": "p4d.24xlarge",
        "zone": "us-east-1a",
        "region": "us-east-1",
        "arch": "amd64",
        "os": "linux",
        "managed": "true",
        "instance_gpu_name": "a100",
        "instance_gpu_count": "8",
        "instance_family": "p4d",
        "resource_type": "nvidia.com/gpu",
    }
    assert results["karpenter-allocatable"].series_count == 1
    assert results["ksm-pod-requests"].series_count == 2
    assert results["dcgm-fb-used"].series_count == 4
    assert results["dcgm-fb-used"].notes == [
        "pod mapping: pod/namespace/container on 3 of 4 series",
        "1 series name no GPU-requesting pod (GPUs no pod holds)",
        "node label: Hostname",
    ]
    assert all(r.notes == [] for k, r in results.items() if k != "dcgm-fb-used")


def test_exported_labels_are_found_and_the_shape_is_named(prom):
    report = check(prom, "exported")
    assert report.exit_code == 0
    assert statuses(report) == {c.key: "found" for c in CHECKS}
    fb = by_key(report)["dcgm-fb-used"]
    assert fb.notes == [
        "pod mapping: exported_pod/exported_namespace/exported_container on 3 of 4 series "
        "(scraped with honorLabels: false, the dcgm-exporter chart's default; pod/namespace name "
        "the exporter itself); costlab reads exported_*",
        "1 series name no GPU-requesting pod (GPUs no pod holds)",
        "node label: Hostname",
    ]
    assert fb.sample["exported_pod"] == "train-0" and fb.sample["pod"] == "dcgm-exporter-6ldbb"


def test_no_label_allowlist_is_a_warning_with_the_exact_allowlist(prom):
    report = check(prom, "noallow")
    assert report.problems == [] and report.exit_code == 0
    labels = {"ksm-pod-labels", "ksm-namespace-labels", "ksm-node-labels"}
    assert statuses(report) == {c.key: "missing" if c.key in labels else "found" for c in CHECKS}
    for key in labels:
        res = by_key(report)[key]
        assert res.severity == "warning"
        assert f"--metric-labels-allowlist={ALLOWLIST}" in res.check.fix
        assert "metricLabelsAllowlist:" in res.check.fix
    assert ALLOWLIST == (
        "pods=[team,app.kubernetes.io/name,llm-d.ai/model],namespaces=[team],"
        "nodes=[node.kubernetes.io/instance-type,karpenter.sh/capacity-type,karpenter.sh/nodepool,"
        "eks.amazonaws.com/capacityType,topology.kubernetes.io/zone]"
    )
    assert by_key(report)["ksm-pod-labels"].check.degrades.endswith("fall back to namespaces")


def test_relabelled_karpenter_without_ksm_nodes_cannot_allocate(prom):
    report = check(prom, "relabelled")
    assert report.exit_code == 1
    results = by_key(report)
    alloc = results["karpenter-allocatable"]
    assert (alloc.status, alloc.severity, alloc.series_count) == ("shape", "error", 1)
    assert alloc.sample["resource_type"] == "nvidia_com_gpu"
    assert alloc.notes[
        0
    ].startswith(
        'found only as karpenter_nodes_allocatable{resource_type="nvidia_com_gpu"}: '  # misspelled on purpose
        'resource_type is "nvidia_com_gpu" here, but Karpenter writes "nvidia.com/gpu"'
    )
    assert alloc.fixes == [KARPENTER_RESPELLED_FIX]
    assert results["ksm-node-allocatable"].status == "missing"
    assert report.problems == [
        'no GPU nodes discoverable: none of karpenter_nodes_allocatable{resource_type="nvidia.com/'
        'gpu"}, kube_node_status_allocatable{resource="nvidia_com_gpu",unit="integer"} has series '
        "(a node seen only by dcgm-exporter cannot be priced)"
    ]
    # DCGM reports the managed node group's node, which no node series knows here.
    assert results["dcgm-fb-used"].notes[-1] == (
        f"1 of 2 Hostname values match no node: {MNG_NODE}: no Karpenter or kube-state-metrics "
        "series names such a node"
    )


def test_absent_karpenter_and_ksm_nodes_cannot_allocate(prom):
    report = check(prom, "absent")
    assert report.exit_code == 1
    results = by_key(report)
    assert results["karpenter-allocatable"].status == "missing"
    assert results["karpenter-allocatable"].severity == "error"
    assert "serviceMonitor.enabled=true" in results["karpenter-allocatable"].check.fix
    assert "regex: karpenter;http-metrics" in results["karpenter-allocatable"].check.fix
    assert results["ksm-pod-requests"].status == "found"
    assert len(report.problems) == 1 and report.problems[0].startswith("no GPU nodes")
    assert results["dcgm-fb-used"].notes[-1] == (
        "Hostname not compared with node names: no Karpenter or kube-state-metrics node series"
    )


def test_unknown_cluster_says_so(prom):
    report = check(prom, "staging")
    assert report.exit_code == 1
    assert {r.status for r in report.results} == {"missing"}
    assert report.problems[0] == (
        'no series at all has cluster="staging": check --cluster and the cluster_label setting'
    )


def test_exporter_pod_hostnames_are_flagged_with_the_relabel_fix(prom):
    report = check(prom, "podhost")
    assert report.exit_code == 0
    fb = by_key(report)["dcgm-fb-used"]
    assert (fb.status, fb.severity) == ("shape", "warning")
    pods = sorted(EXPORTER_PODS.values())
    assert fb.notes[-1] == (
        f"2 of 2 Hostname values match no node: {pods[0]}, {pods[1]}: these are dcgm-exporter pod "
        "names (NODE_NAME is not set)"
    )
    assert fb.fixes == [HOSTNAME_FIX]
    assert "fieldPath: spec.nodeName" in HOSTNAME_FIX
    assert "- sourceLabels: [__meta_kubernetes_pod_node_name]\n      targetLabel: Hostname" in (
        HOSTNAME_FIX
    )
    assert "- source_labels: [__meta_kubernetes_pod_node_name]\n      target_label: Hostname" in (
        HOSTNAME_FIX
    )


def test_exporter_without_kubernetes_mapping_is_flagged(prom):
    report = check(prom, "nomap")
    assert report.exit_code == 0
    fb = by_key(report)["dcgm-fb-used"]
    assert fb.status == "shape"
    assert fb.notes[1:3] == [
        'the pod values name no pod that requests a GPU (e.g. pod="dcgm-exporter-6ldbb"): they '
        "are the exporter's own target labels",
        "dcgm-exporter runs without Kubernetes mapping, so GPU use cannot be tied to pods",
    ]
    assert fb.fixes == [MAPPING_FIX] and "DCGM_EXPORTER_KUBERNETES=true" in MAPPING_FIX
    prof = by_key(report)["dcgm-engine-active"]
    assert (prof.status, prof.severity) == ("missing", "warning")
    assert prof.check.fix == DCGM_PROF_FIX


def test_json_format_schema(prom):
    result = cli(
        "--url", prom.url, "--cluster", "relabelled", "--at", END.isoformat(), "--format", "json"
    )
    assert result.returncode == 1, result.stderr
    doc = json.loads(result.stdout)
    assert set(doc) == {
        "url",
        "cluster",
        "at",
        "lookback_s",
        "allocation_possible",
        "exit_code",
        "problems",
        "checks",
    }
    assert (doc["url"], doc["cluster"], doc["at"], doc["lookback_s"]) == (
        prom.url,
        "relabelled",
        END.isoformat(),
        3600.0,
    )
    assert (doc["allocation_possible"], doc["exit_code"], len(doc["problems"])) == (False, 1, 1)
    assert [c["key"] for c in doc["checks"]] == [c.key for c in CHECKS]
    keys = {
        "key",
        "source",
        "series",
        "status",
        "severity",
        "series_count",
        "sample_labels",
        "scrape_interval_s",
        "last_seen",
        "notes",
        "degrades",
        "fix",
        "upstream",
    }
    for c in doc["checks"]:
        assert set(c) == keys
        assert c["status"] in ("found", "missing", "shape")
        assert c["severity"] in ("ok", "warning", "error", "info")
        assert (c["fix"] is None) == (c["status"] == "found")
    alloc = doc["checks"][0]
    assert alloc["series"] == 'karpenter_nodes_allocatable{resource_type="nvidia.com/gpu"}'
    assert (alloc["status"], alloc["severity"], alloc["series_count"]) == ("shape", "error", 1)
    assert (
        alloc["upstream"] == "kubernetes-sigs/karpenter pkg/controllers/metrics/node/controller.go"
    )
    requests = next(c for c in doc["checks"] if c["key"] == "ksm-pod-requests")
    assert (requests["status"], requests["scrape_interval_s"], requests["last_seen"]) == (
        "found",
        15.0,
        "2026-11-01T00:59:45+00:00",
    )


def test_cli_table_and_exit_codes(prom):
    ok = cli("--url", prom.url, "--cluster", "healthy", "--at", END.isoformat())
    assert ok.returncode == 0, ok.stderr
    assert "costlab doctor: " + prom.url in ok.stdout
    assert 'karpenter_nodes_allocatable{resource_type="nvidia.com/gpu"}' in ok.stdout
    assert "allocation can work; every series costlab reads was found." in ok.stdout
    bad = cli("--url", prom.url, "--cluster", "absent", "--at", END.isoformat())
    assert bad.returncode == 1, bad.stderr
    assert "allocation cannot work:" in bad.stdout and bad.stderr == ""
    # Not a terminal: the fixes' YAML keeps its lines (no folding at 80 columns).
    assert "\n          regex: karpenter;http-metrics\n" in bad.stdout


def test_bad_urls_are_one_line_errors(tmp_path):
    down = cli("--url", "http://127.0.0.1:9")
    assert down.returncode == 1
    assert down.stderr.startswith("error: cannot query Prometheus at http://127.0.0.1:9: ")
    assert len(down.stderr.strip().splitlines()) == 1 and "Traceback" not in down.stderr
    scheme = cli("--url", "prometheus:9090")
    assert scheme.returncode == 2
    assert scheme.stderr.strip() == (
        "error: --url must start with http:// or https://, got 'prometheus:9090'"
    )
    with pytest.raises(UsageError, match="not a duration"):
        doctor(settings("http://127.0.0.1:9"), lookback="an hour")


def test_docs_list_every_check_with_its_upstream_source(repo_dir):
    docs = (repo_dir / "docs" / "collect-prometheus.md").read_text()
    preflight = docs[docs.index("## Preflight: `costlab doctor`") :]
    for c in CHECKS:
        assert f"| `{c.series}` | {c.role} | {c.upstream} |" in preflight, c.key
    readme = (repo_dir / "README.md").read_text()
    connect = readme[readme.index("## Connect your cluster") :]
    assert connect.split("```bash\n", 1)[1].startswith("uv run costlab doctor --url ")
