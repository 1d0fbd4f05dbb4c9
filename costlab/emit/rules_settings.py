"""Settings for the generated PrometheusRules: thresholds, budgets, label names, metric source.

Every field has a default, bounds where they make sense and a description; `docs/rules.md` lists
them. They come from the environment with the prefix `COSTLAB_RULES_` (dicts and lists as JSON,
e.g. `COSTLAB_RULES_BUDGETS_USD_PER_MONTH='{"ml-research": 20000}'`).

Names that end up inside PromQL are checked against a grammar (label names against Prometheus',
the GPU resource against Kubernetes' resource-name grammar), so no setting can inject PromQL text.
"""

from __future__ import annotations

import os
import re
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

_LABEL_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
# An extended resource name (a GPU is one): a DNS-subdomain prefix, `/`, a qualified name
# (k8s.io/apimachinery validation: IsDNS1123Subdomain, IsQualifiedName). Neither part can hold a
# quote or a backslash, so the derived spellings are safe inside PromQL string literals; the
# required prefix refuses an exporter's spelling such as `nvidia_com_gpu`.
_DNS_LABEL = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_RESOURCE_NAME = re.compile(
    rf"^{_DNS_LABEL}(\.{_DNS_LABEL})*/[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$"
)
_DURATION = re.compile(r"^[1-9][0-9]*(ms|s|m|h|d|w|y)$")
_DURATION_SECONDS = {
    "ms": 0.001,
    "s": 1,
    "m": 60,
    "h": 3600,
    "d": 86400,
    "w": 604800,
    "y": 31536000,
}


def _label_name(value: str) -> str:
    if not _LABEL_NAME.match(value):
        raise ValueError(f"{value!r} is not a Prometheus label name ([a-zA-Z_][a-zA-Z0-9_]*)")
    return value


def _resource_name(value: str) -> str:
    prefix, _, name = value.rpartition("/")
    if not _RESOURCE_NAME.match(value) or len(name) > 63 or len(prefix) > 253:
        raise ValueError(
            f"{value!r} is not a Kubernetes extended resource name (domain/name, e.g. "
            "nvidia.com/gpu, amd.com/gpu, aws.amazon.com/neuron)"
        )
    return value


def _duration(value: str) -> str:
    if not _DURATION.match(value):
        raise ValueError(
            f"{value!r} is not a Prometheus duration with one unit, e.g. 30s, 5m, 1h, 3d"
        )
    return value


def duration_seconds(value: str) -> float:
    """Seconds in a one-unit Prometheus duration such as `5m` or `3d`."""
    match = _DURATION.match(value)
    if not match:
        raise ValueError(f"{value!r} is not a Prometheus duration")
    unit = match.group(1)
    return int(value[: -len(unit)]) * _DURATION_SECONDS[unit]


LabelName = Annotated[str, AfterValidator(_label_name)]
ResourceName = Annotated[str, AfterValidator(_resource_name)]
Duration = Annotated[str, AfterValidator(_duration)]
PriceSource = Literal["karpenter", "exporter"]


class BurnWindow(BaseModel):
    """One multi-window burn-rate condition: both windows must burn faster than `factor`."""

    long: Duration = Field(description="Long window: is the budget really burning fast?")
    short: Duration = Field(description="Short window: is it still burning now? (resets fast)")
    factor: float = Field(gt=0, description="Burn rate (1 = exactly the monthly budget) to exceed.")
    severity: Literal["critical", "warning"] = Field(description="Alert severity label.")

    @model_validator(mode="after")
    def _short_below_long(self) -> BurnWindow:
        if duration_seconds(self.short) >= duration_seconds(self.long):
            raise ValueError(
                f"short window {self.short} must be shorter than long window {self.long}"
            )
        return self


# The Google SRE workbook's multi-window, multi-burn-rate table (chapter 5, "Alerting on SLOs"),
# read with "error budget" = "monthly spend budget": 14.4x for 1h spends 2 % of the month's budget.
DEFAULT_BURN_WINDOWS = (
    BurnWindow(long="1h", short="5m", factor=14.4, severity="critical"),
    BurnWindow(long="6h", short="30m", factor=6, severity="critical"),
    BurnWindow(long="1d", short="2h", factor=3, severity="warning"),
    BurnWindow(long="3d", short="6h", factor=1, severity="warning"),
)


class RulesSettings(BaseSettings):
    """What the generated rules measure, which thresholds they alert on, and how they are named."""

    model_config = SettingsConfigDict(env_prefix="COSTLAB_RULES_", extra="forbid")

    price_source: PriceSource = Field(
        default="karpenter",
        description=(
            "Where $/hour per instance comes from: `karpenter` = Karpenter's own "
            "karpenter_cloudprovider_instance_type_offering_price_estimate; `exporter` = "
            "costlab_instance_hourly_cost_usd served by `costlab exporter` from the price table."
        ),
    )
    name: str = Field(
        default="costlab-gpu-cost", min_length=1, description="PrometheusRule metadata.name."
    )
    namespace: str = Field(
        default="monitoring", min_length=1, description="PrometheusRule metadata.namespace."
    )
    labels: dict[str, str] = Field(
        default_factory=lambda: {
            "app.kubernetes.io/name": "costlab",
            "app.kubernetes.io/part-of": "costlab",
        },
        description=(
            "PrometheusRule metadata.labels (add what your Prometheus' ruleSelector matches)."
        ),
    )
    evaluation_interval: Duration = Field(
        default="1m", description="Evaluation interval of every rule group."
    )
    cluster_label: LabelName = Field(
        default="cluster",
        description="Label that names the cluster (external label or relabelled).",
    )
    gpu_resource: ResourceName = Field(
        default="nvidia.com/gpu",
        description=(
            "Kubernetes name of the GPU resource; the rules derive Karpenter's resource_type "
            "(nvidia.com/gpu) and kube-state-metrics' resource (nvidia_com_gpu) from it."
        ),
    )
    tenant_label: LabelName = Field(
        default="team",
        description=(
            "Namespace label naming the tenant; read from kube_namespace_labels as label_<name>."
        ),
    )
    dcgm_node_label: LabelName = Field(
        default="Hostname",
        description=(
            "DCGM exporter label holding the node name: Hostname in every release "
            "(hostname on dcgm-exporter's unreleased HEAD)."
        ),
    )
    idle_util_threshold_pct: float = Field(
        default=10,
        ge=0,
        le=100,
        description="A requested GPU whose mean DCGM util is below this is idle.",
    )
    util_window: Duration = Field(default="10m", description="Window of the mean GPU utilisation.")
    idle_minutes: int = Field(
        default=30,
        ge=1,
        le=10080,
        description="Minutes a GPU node must be fully idle before alerting.",
    )
    cost_threshold_usd_per_hour: Decimal | None = Field(
        default=None,
        gt=0,
        description=(
            "Cluster GPU $/hour to alert above; default: a quantile of the recorded hourly cost."
        ),
    )
    cost_threshold_quantile: float = Field(
        default=0.95,
        gt=0,
        lt=1,
        description="Quantile of hourly cluster cost used as default threshold.",
    )
    baseline_days: int = Field(
        default=28,
        ge=1,
        le=366,
        description="Days of allocation data (ending at its last hour) for the quantile.",
    )
    cost_alert_minutes: int = Field(
        default=30, ge=1, le=1440, description="`for` of the cost threshold alert."
    )
    spike_ratio: float = Field(
        default=1.5, gt=1, description="Alert when 1h mean cost exceeds last week's by this factor."
    )
    spike_min_increase_usd_per_hour: Decimal = Field(
        default=Decimal(10), ge=0, description="... and by at least this many dollars per hour."
    )
    spike_minutes: int = Field(default=30, ge=1, le=1440, description="`for` of the spike alert.")
    spot_fallback_min_new_nodes: int = Field(
        default=2,
        ge=1,
        description="On-demand GPU nodes added within the window that make a surge.",
    )
    spot_fallback_window: Duration = Field(
        default="1h", description="Window in which the on-demand nodes were added."
    )
    spot_lookback: Duration = Field(
        default="6h",
        description="A nodepool counts as spot-backed if it ran spot nodes within this window.",
    )
    budgets_usd_per_month: dict[str, Decimal] = Field(
        default_factory=dict,
        description="Monthly GPU budget per tenant in USD; empty: no budget alerts.",
    )
    hours_per_month: float = Field(
        default=730, gt=0, description="Hours in a budget month (365 * 24 / 12)."
    )
    burn_windows: list[BurnWindow] = Field(
        default_factory=lambda: list(DEFAULT_BURN_WINDOWS),
        min_length=1,
        description="Multi-window burn-rate conditions (SRE workbook defaults).",
    )
    runbook_url_base: str | None = Field(
        default=None,
        description="If set, alerts get runbook_url = <base>#<alert name in lower case>.",
    )

    @model_validator(mode="before")
    @classmethod
    def _refuse_removed_gpu_resource_type(cls, data: object) -> object:
        # One label spelling for both exporters was half wrong (Karpenter keeps `nvidia.com/gpu`):
        # say what replaced it instead of silently ignoring an old environment variable.
        given = isinstance(data, dict) and "gpu_resource_type" in data
        if given or "COSTLAB_RULES_GPU_RESOURCE_TYPE" in os.environ:
            raise ValueError(
                "gpu_resource_type (COSTLAB_RULES_GPU_RESOURCE_TYPE) was replaced by gpu_resource "
                "(COSTLAB_RULES_GPU_RESOURCE), the Kubernetes resource name, e.g. nvidia.com/gpu"
            )
        return data

    @model_validator(mode="after")
    def _check_budgets(self) -> RulesSettings:
        for tenant, budget in self.budgets_usd_per_month.items():
            if not tenant:
                raise ValueError("budgets_usd_per_month has an empty tenant name")
            if budget <= 0:
                raise ValueError(f"budget for tenant {tenant!r} must be > 0, got {budget}")
        return self
