"""Helpers to generate the rules the tests check, and to run promtool on them."""

from __future__ import annotations

import subprocess
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from costlab import store
from costlab.emit import prometheus_rules as pr
from costlab.emit.rules_thresholds import CostThreshold, cost_threshold
from tests.emit.rules_fixtures import fill_allocation, fixture_settings

PROMTOOL_TESTS = Path(__file__).resolve().parent / "promtool"


@cache
def fixture_threshold() -> CostThreshold:
    """The threshold the fixture allocation data yields ($190.50/h), read from a real database."""
    conn = store.connect(":memory:")
    try:
        fill_allocation(conn)
        return cost_threshold(conn, fixture_settings())
    finally:
        conn.close()


def write_rules(folder: Path, price_source: str, **overrides: object) -> tuple[Path, Path]:
    """Generate both files for the fixture settings; returns (PrometheusRule path, plain path)."""
    settings = fixture_settings(price_source=price_source, **overrides)
    operator_yaml, plain_yaml = pr.render(settings, fixture_threshold())
    operator = folder / f"prometheusrule.{price_source}.yaml"
    operator.write_text(operator_yaml)
    plain = pr.plain_rules_path(operator)
    plain.write_text(plain_yaml)
    return operator, plain


def run_promtool(promtool: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [promtool, *args], capture_output=True, text=True, timeout=150, check=False
    )


def static_annotations(rules_doc: dict[str, Any]) -> dict[str, dict[str, str]]:
    """Per alert, the annotations without templates (they are the same for every alert instance)."""
    out: dict[str, dict[str, str]] = {}
    for group in rules_doc["groups"]:
        for rule in group["rules"]:
            if "alert" in rule:
                notes = rule.get("annotations", {})
                out[rule["alert"]] = {k: v for k, v in notes.items() if "{{" not in v}
    return out


def prepare_unit_test(test_file: Path, rules_path: Path, folder: Path) -> Path:
    """Copy a hand-written promtool test next to the generated rules, completing it.

    rule_files points at the generated file; every expected alert gets the rule's static
    annotations, overlaid with the hand-written (templated) ones.
    """
    spec = yaml.safe_load(test_file.read_text())
    rules_doc = yaml.safe_load(rules_path.read_text())
    static = static_annotations(rules_doc)
    spec["rule_files"] = [str(rules_path)]
    for case in spec["tests"]:
        for alert_test in case.get("alert_rule_test", []):
            name = alert_test["alertname"]
            assert name in static, (
                f"{test_file.name} tests alert {name} that the rules do not define"
            )
            for expected in alert_test.get("exp_alerts") or []:
                expected["exp_annotations"] = {
                    **static[name],
                    **(expected.get("exp_annotations") or {}),
                }
    target = folder / test_file.name
    target.write_text(yaml.safe_dump(spec, sort_keys=False, width=1000))
    return target
