"""The GPU resource setting: one Kubernetes name, each exporter's spelling derived from it."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from costlab.collect.accelerators import karpenter_resource_type, ksm_resource
from costlab.config import settings_for
from costlab.emit import prometheus_rules as pr
from costlab.emit.rules_settings import RulesSettings
from costlab.emit.rules_thresholds import CostThreshold
from costlab.errors import UsageError


# Expected values from the upstream sources: Karpenter's resourceNameToString
# (kubernetes-sigs/karpenter pkg/controllers/metrics/node/controller.go) and kube-state-metrics'
# SanitizeLabelName (kubernetes/kube-state-metrics internal/store/utils.go; its pod_test.go
# shows resource="nvidia_com_gpu").
@pytest.mark.parametrize(
    ("resource", "karpenter", "ksm"),
    [
        ("nvidia.com/gpu", "nvidia.com/gpu", "nvidia_com_gpu"),
        ("amd.com/gpu", "amd.com/gpu", "amd_com_gpu"),
        ("aws.amazon.com/neuron", "aws.amazon.com/neuron", "aws_amazon_com_neuron"),
        ("vpc.amazonaws.com/pod-eni", "vpc.amazonaws.com/pod_eni", "vpc_amazonaws_com_pod_eni"),
        (
            "vpc.amazonaws.com/PrivateIPv4Address",
            "vpc.amazonaws.com/privateipv4address",
            "vpc_amazonaws_com_PrivateIPv4Address",
        ),
        ("hugepages-2Mi", "hugepages_2mi", "hugepages_2Mi"),
    ],
)
def test_each_exporter_spelling(resource, karpenter, ksm):
    assert karpenter_resource_type(resource) == karpenter
    assert ksm_resource(resource) == ksm


def exprs(settings: RulesSettings) -> str:
    doc = pr.rules_file(settings, CostThreshold(None, "not needed"))
    return "\n".join(r["expr"] for g in doc["groups"] for r in g["rules"])


def test_default_rules_select_karpenter_and_ksm_spellings():
    text = exprs(RulesSettings())
    assert 'karpenter_nodes_allocatable{resource_type="nvidia.com/gpu"}' in text
    assert 'karpenter_nodes_total_pod_requests{resource_type="nvidia.com/gpu"}' in text
    assert 'kube_pod_container_resource_requests{resource="nvidia_com_gpu"}' in text
    assert 'resource_type="nvidia_com_gpu"' not in text  # misspelled on purpose


def test_another_gpu_resource_changes_both_spellings():
    text = exprs(RulesSettings(gpu_resource="amd.com/gpu"))
    assert 'karpenter_nodes_allocatable{resource_type="amd.com/gpu"}' in text
    assert 'kube_pod_container_resource_requests{resource="amd_com_gpu"}' in text
    assert "nvidia" not in text


@pytest.mark.parametrize(
    "bad",
    [
        "nvidia_com_gpu",  # kube-state-metrics' spelling, not the resource name
        "gpu",
        'nvidia.com/gpu"} or vector(1) or {x="',
        "nvidia.com/",
        "Nvidia.com/gpu",
        "nvidia.com/" + "g" * 64,
    ],
)
def test_gpu_resource_must_be_an_extended_resource_name(bad):
    with pytest.raises(ValidationError, match="extended resource name"):
        RulesSettings(gpu_resource=bad)


def test_removed_gpu_resource_type_is_refused_with_its_replacement(monkeypatch):
    monkeypatch.setenv("COSTLAB_RULES_GPU_RESOURCE_TYPE", "nvidia_com_gpu")
    with pytest.raises(UsageError, match="replaced by gpu_resource"):
        settings_for(RulesSettings, "rules")
    monkeypatch.delenv("COSTLAB_RULES_GPU_RESOURCE_TYPE")
    with pytest.raises(ValidationError, match="COSTLAB_RULES_GPU_RESOURCE\\)"):
        RulesSettings(gpu_resource_type="nvidia_com_gpu")  # misspelled on purpose


def test_gpu_resource_comes_from_the_environment(monkeypatch):
    monkeypatch.setenv("COSTLAB_RULES_GPU_RESOURCE", "aws.amazon.com/neuron")
    assert settings_for(RulesSettings, "rules").gpu_resource == "aws.amazon.com/neuron"


def test_promtool_fixtures_spell_each_exporter_its_own_way():
    from tests.emit.rules_harness import PROMTOOL_TESTS

    for path in sorted(PROMTOOL_TESTS.glob("*.yaml")):
        text = path.read_text()
        assert 'resource_type="nvidia_com_gpu"' not in text, path.name  # misspelled on purpose
        assert 'resource="nvidia.com/gpu"' not in text, path.name
        if "karpenter_nodes_allocatable{" in text:
            assert 'resource_type="nvidia.com/gpu"' in text, path.name
