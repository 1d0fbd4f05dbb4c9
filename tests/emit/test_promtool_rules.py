"""The generated rules pass `promtool check rules` and the hand-written `promtool test rules`."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.emit.rules_harness import PROMTOOL_TESTS, prepare_unit_test, run_promtool, write_rules

# Every test runs promtool.
pytestmark = pytest.mark.service


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, Path]]:
    folder = tmp_path_factory.mktemp("rules")
    return {source: write_rules(folder, source) for source in ("karpenter", "exporter")}


@pytest.mark.parametrize("source", ["karpenter", "exporter"])
def test_promtool_check_rules_accepts_plain_file(promtool, generated, source):
    _operator, plain = generated[source]
    proc = run_promtool(promtool, "check", "rules", str(plain))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "SUCCESS" in proc.stdout


@pytest.mark.parametrize("source", ["karpenter", "exporter"])
def test_promtool_check_rules_accepts_prometheusrule_spec(promtool, generated, source, tmp_path):
    # promtool reads rule files, not Kubernetes objects: check the PrometheusRule's spec as one.
    import yaml

    operator, _plain = generated[source]
    spec = yaml.safe_load(operator.read_text())["spec"]
    target = tmp_path / "spec.yaml"
    target.write_text(yaml.safe_dump(spec))
    proc = run_promtool(promtool, "check", "rules", str(target))
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.parametrize(
    ("test_file", "source"),
    [
        ("karpenter_rules_test.yaml", "karpenter"),
        ("exporter_rules_test.yaml", "exporter"),
        ("spike_test.yaml", "karpenter"),
    ],
)
def test_promtool_unit_tests(promtool, generated, tmp_path, test_file, source):
    _operator, plain = generated[source]
    prepared = prepare_unit_test(PROMTOOL_TESTS / test_file, plain, tmp_path)
    proc = run_promtool(promtool, "test", "rules", str(prepared))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "SUCCESS" in proc.stdout
