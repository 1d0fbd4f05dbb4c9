"""`costlab rules`: golden output, the CRD schema, thresholds from data, settings checks."""

from __future__ import annotations

from decimal import Decimal
from io import StringIO

import pytest
import yaml
from pydantic import ValidationError
from rich.console import Console

from costlab import schemas
from costlab.emit import prometheus_rules as pr
from costlab.emit.rules_settings import RulesSettings
from costlab.emit.rules_thresholds import CostThreshold, cost_threshold
from tests.emit.rules_fixtures import FIXTURE_P95_USD, fill_allocation, fixture_settings
from tests.emit.rules_harness import fixture_threshold


@pytest.mark.parametrize("source", ["karpenter", "exporter"])
def test_rules_cli_output_matches_golden(cost_db, tmp_path, golden, source):
    out = tmp_path / f"prometheusrule.{source}.yaml"
    console = Console(file=StringIO())
    message = pr.rules_from_cli(
        cost_db, out=out, console=console, settings=fixture_settings(price_source=source)
    )
    assert "$190.50/h" in message
    golden(f"rules/prometheusrule.{source}.yaml", out.read_text())
    golden(f"rules/prometheusrule.{source}.prometheus.yaml", pr.plain_rules_path(out).read_text())


@pytest.mark.parametrize("source", ["karpenter", "exporter"])
def test_prometheusrule_validates_against_the_pinned_crd_schema(source):
    doc = pr.prometheus_rule(fixture_settings(price_source=source), fixture_threshold())
    schemas.validate(doc)
    assert doc["apiVersion"] == "monitoring.coreos.com/v1"
    assert doc["kind"] == "PrometheusRule"
    # The CRD does not forbid unknown fields, so check the rule keys promtool/Prometheus accept.
    allowed = {"record", "alert", "expr", "for", "labels", "annotations"}
    for group in doc["spec"]["groups"]:
        assert set(group) == {"name", "interval", "rules"}
        for rule in group["rules"]:
            assert set(rule) <= allowed
            assert all(isinstance(v, str) for v in rule.get("annotations", {}).values())


def test_pinned_schema_is_the_operators_prometheusrule_v1():
    # Copied unchanged by scripts/derive_demo_data.py; the NOTICE names the commit.
    schema = schemas.openapi_schema("monitoring.coreos.com/v1", "PrometheusRule")
    rule = schema["properties"]["spec"]["properties"]["groups"]["items"]["properties"]["rules"]
    assert set(rule["items"]["properties"]) == {
        "alert",
        "annotations",
        "expr",
        "for",
        "keep_firing_for",
        "labels",
        "record",
    }
    assert schema["required"] == ["spec"]


def test_invalid_prometheusrule_is_rejected():
    doc = pr.prometheus_rule(fixture_settings(), fixture_threshold())
    doc["spec"]["groups"][0]["interval"] = "one minute"
    with pytest.raises(pr.RuleValidationError, match="interval"):
        pr.validate_prometheus_rule(doc)
    doc = pr.prometheus_rule(fixture_settings(), fixture_threshold())
    doc["spec"]["groups"][0]["rules"][0]["alert"] = "Both"
    with pytest.raises(pr.RuleValidationError, match="exactly one"):
        pr.validate_prometheus_rule(doc)


def test_output_is_deterministic():
    first = pr.render(fixture_settings(), fixture_threshold())
    second = pr.render(fixture_settings(), fixture_threshold())
    assert first == second
    # Budgets given in another order give the same file.
    reordered = fixture_settings(
        budgets_usd_per_month={"search": Decimal(7300), "research": Decimal(18250)}
    )
    assert pr.render(reordered, fixture_threshold()) == first


def test_threshold_defaults_to_p95_of_hourly_cost(fresh_db):
    fill_allocation(fresh_db)
    threshold = cost_threshold(fresh_db, fixture_settings())
    assert threshold.usd_per_hour == FIXTURE_P95_USD
    assert "p95 of 20 hourly GPU cost totals" in threshold.basis
    assert "2026-09-01T00:00:00Z to 2026-09-01T19:00:00Z" in threshold.basis


def test_threshold_from_settings_wins_over_data(fresh_db):
    fill_allocation(fresh_db)
    threshold = cost_threshold(
        fresh_db, fixture_settings(cost_threshold_usd_per_hour=Decimal("99.999"))
    )
    assert threshold == CostThreshold(
        Decimal("100.00"), "set in settings (cost_threshold_usd_per_hour)"
    )


def test_baseline_days_limits_the_quantile_to_recent_hours(fresh_db):
    fill_allocation(fresh_db)
    # One day ending at the last hour = all 20 hours; the quantile is the same.
    assert (
        cost_threshold(fresh_db, fixture_settings(baseline_days=1)).usd_per_hour == FIXTURE_P95_USD
    )
    # 50th percentile of $10..$200 = (100 + 110) / 2.
    median = cost_threshold(fresh_db, fixture_settings(cost_threshold_quantile=0.5))
    assert median.usd_per_hour == Decimal("105.00")


def test_no_data_and_no_setting_leaves_the_cost_alert_out(fresh_db, tmp_path):
    threshold = cost_threshold(fresh_db, fixture_settings())
    assert threshold.usd_per_hour is None
    doc = pr.rules_file(fixture_settings(), threshold)
    alerts = [r["alert"] for g in doc["groups"] for r in g["rules"] if "alert" in r]
    assert "CostlabGpuCostAboveThreshold" not in alerts
    assert "CostlabIdleGpuNode" in alerts
    # The CLI entry works without a database file too, and says what it left out.
    buffer = StringIO()
    message = pr.rules_from_cli(
        tmp_path / "absent.duckdb",
        out=tmp_path / "r.yaml",
        console=Console(file=buffer, width=400),
        settings=RulesSettings(),
    )
    assert "cost threshold none" in message
    assert "CostlabGpuCostAboveThreshold left out" in buffer.getvalue()
    assert "budget alerts left out" in buffer.getvalue()
    assert (tmp_path / "r.prometheus.yaml").is_file()


def test_alerts_cover_the_issue():
    doc = pr.rules_file(fixture_settings(), fixture_threshold())
    alerts = {r["alert"]: r for g in doc["groups"] for r in g["rules"] if "alert" in r}
    assert sorted(alerts) == [
        "CostlabGpuCostAboveThreshold",
        "CostlabGpuCostSpikeVsLastWeek",
        "CostlabIdleGpuNode",
        "CostlabSpotFallbackSurge",
        "CostlabTenantBudgetBurnCritical",
        "CostlabTenantBudgetBurnWarning",
    ]
    for rule in alerts.values():
        assert {"summary", "description", "runbook"} <= set(rule["annotations"])
        assert rule["labels"]["severity"] in {"warning", "critical"}
    assert "offset 1w" in alerts["CostlabGpuCostSpikeVsLastWeek"]["expr"]
    assert (
        alerts["CostlabGpuCostAboveThreshold"]["annotations"]["threshold_usd_per_hour"] == "190.5"
    )
    assert (
        "p95 of 20 hourly" in alerts["CostlabGpuCostAboveThreshold"]["annotations"]["description"]
    )
    assert alerts["CostlabIdleGpuNode"]["for"] == "30m"
    critical = alerts["CostlabTenantBudgetBurnCritical"]["expr"]
    assert "ratio_rate1h > 14.4" in critical and "ratio_rate5m > 14.4" in critical
    records = {r["record"] for g in doc["groups"] for r in g["rules"] if "record" in r}
    for level in ("cluster", "nodepool", "namespace", "tenant", "capacity_type"):
        assert f"{level}:costlab_cost_usd_per_hour:sum" in records


def test_settings_change_the_rules():
    settings = fixture_settings(
        idle_minutes=45,
        idle_util_threshold_pct=5,
        cluster_label="k8s_cluster",
        tenant_label="cost-center".replace("-", "_"),
        runbook_url_base="https://runbooks.example.com/costlab",
        evaluation_interval="30s",
    )
    doc = pr.rules_file(settings, CostThreshold(Decimal(50), "test"))
    exprs = "\n".join(r["expr"] for g in doc["groups"] for r in g["rules"])
    assert "by (k8s_cluster)" in exprs and "by (cluster)" not in exprs
    assert "label_cost_center" in exprs
    assert "avg_over_time(DCGM_FI_DEV_GPU_UTIL[10m])) < 5\n" in exprs
    alerts = {r["alert"]: r for g in doc["groups"] for r in g["rules"] if "alert" in r}
    assert alerts["CostlabIdleGpuNode"]["for"] == "45m"
    assert alerts["CostlabIdleGpuNode"]["annotations"]["runbook_url"].endswith(
        "#costlabidlegpunode"
    )
    assert {g["interval"] for g in doc["groups"]} == {"30s"}


@pytest.mark.parametrize(
    "bad",
    [
        {"cluster_label": "cluster) or vector(1"},
        {"tenant_label": "cost-center"},
        {"util_window": "10 minutes"},
        {"budgets_usd_per_month": {"research": Decimal(-1)}},
        {"idle_util_threshold_pct": 150},
        {"price_source": "opencost"},
        {"burn_windows": [{"long": "5m", "short": "1h", "factor": 2, "severity": "warning"}]},
    ],
)
def test_bad_settings_are_refused(bad):
    with pytest.raises(ValidationError):
        RulesSettings(**bad)


def test_settings_come_from_the_environment(monkeypatch):
    monkeypatch.setenv("COSTLAB_RULES_PRICE_SOURCE", "exporter")
    monkeypatch.setenv("COSTLAB_RULES_BUDGETS_USD_PER_MONTH", '{"research": 1000}')
    monkeypatch.setenv("COSTLAB_RULES_IDLE_MINUTES", "15")
    settings = RulesSettings()
    assert settings.price_source == "exporter"
    assert settings.budgets_usd_per_month == {"research": Decimal(1000)}
    assert settings.idle_minutes == 15


def test_costlab_rules_command_writes_both_files(cost_db, tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from costlab.cli import app

    monkeypatch.setenv("COSTLAB_RULES_BUDGETS_USD_PER_MONTH", '{"research": 18250}')
    out = tmp_path / "costlab-rules.yaml"
    result = CliRunner().invoke(app, ["--db", str(cost_db), "rules", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "cost threshold $190.50/h" in result.output
    doc = yaml.safe_load(out.read_text())
    assert doc["kind"] == "PrometheusRule"
    plain = yaml.safe_load((tmp_path / "costlab-rules.prometheus.yaml").read_text())
    assert plain["groups"] == doc["spec"]["groups"]
