"""PromQL of the generated rules, one small builder per expression.

Metric and label names are the real ones (see docs/rules.md for the sources):
- Karpenter node gauges `karpenter_nodes_allocatable` / `karpenter_nodes_total_pod_requests`
  carry `node_name`, `nodepool`, `capacity_type`, `instance_type`, `zone`, `region` (and more
  well-known labels the rules aggregate away) and `resource_type`, the resource name lower-cased
  with `-` -> `_`: `nvidia.com/gpu` stays `nvidia.com/gpu`;
- Karpenter's `karpenter_cloudprovider_instance_type_offering_price_estimate` carries
  `instance_type`, `capacity_type`, `zone` (no region since v0.36);
- `costlab exporter` serves
  `costlab_instance_hourly_cost_usd{instance_type,capacity_type,region,zone}`
  where zone="" is a region-wide price;
- kube-state-metrics: `kube_pod_container_resource_requests{resource,namespace,pod,node}` with
  `resource` sanitised (`nvidia.com/gpu` -> `nvidia_com_gpu`), `kube_pod_status_phase{phase}`,
  `kube_namespace_labels{label_<name>}`;
- DCGM exporter: `DCGM_FI_DEV_GPU_UTIL` (0-100) with `gpu` and `Hostname`. The rules read DCGM
  per node and GPU only, never by its `pod`/`namespace`: those name the exporter itself when it is
  scraped with honorLabels=false (the dcgm-exporter chart's default; the workload is then in
  `exported_pod`/`exported_namespace`), so both scrape shapes give the same results.

Both GPU resource spellings are derived from the one Kubernetes resource name in the settings,
and every other name a setting can change is a validated label name, so nothing here builds
PromQL from free text.
"""

from __future__ import annotations

from decimal import Decimal

from costlab.collect.accelerators import karpenter_resource_type, ksm_resource
from costlab.emit.rules_settings import RulesSettings

KARPENTER_PRICE = "karpenter_cloudprovider_instance_type_offering_price_estimate"
EXPORTER_PRICE = "costlab_instance_hourly_cost_usd"

# Recorded series, named level:metric:operation.
PRICE = "instance_type:costlab_price_usd_per_hour:max"
NODE_GPUS = "node:costlab_gpus_allocatable:max"
NODE_UNREQUESTED = "node:costlab_gpus_unrequested:max"
NODE_UNDERUTILIZED = "node:costlab_gpus_underutilized:count"
NODE_IDLE_GPUS = "node:costlab_gpus_idle:sum"
NODE_COST = "node:costlab_cost_usd_per_hour:sum"
NODE_GPU_PRICE = "node:costlab_gpu_price_usd_per_hour:ratio"
NODE_IDLE_COST = "node:costlab_idle_gpu_cost_usd_per_hour:sum"
CLUSTER_COST = "cluster:costlab_cost_usd_per_hour:sum"
CLUSTER_COST_1H = "cluster:costlab_cost_usd_per_hour:avg_over_time1h"
NODEPOOL_COST = "nodepool:costlab_cost_usd_per_hour:sum"
CAPACITY_COST = "capacity_type:costlab_cost_usd_per_hour:sum"
NAMESPACE_COST = "namespace:costlab_cost_usd_per_hour:sum"
TENANT_COST = "tenant:costlab_cost_usd_per_hour:sum"
CLUSTER_IDLE_COST = "cluster:costlab_idle_gpu_cost_usd_per_hour:sum"
NODEPOOL_IDLE_COST = "nodepool:costlab_idle_gpu_cost_usd_per_hour:sum"
NODEPOOL_NODES = "nodepool_capacity_type:costlab_gpu_nodes:count"
TENANT_BUDGET = "tenant:costlab_budget_usd_per_month:value"


def burn_rate_record(window: str) -> str:
    return f"tenant:costlab_budget_burn_rate:ratio_rate{window}"


def number(value: Decimal | float | int) -> str:
    """A PromQL number literal without exponent or trailing zeros (1.50 -> 1.5, 730.0 -> 730)."""
    d = Decimal(str(value)).normalize()
    text = f"{d:f}"
    return text


class Exprs:
    """The expressions for one settings object."""

    def __init__(self, settings: RulesSettings) -> None:
        self.s = settings
        c = settings.cluster_label
        self.c = c
        self.node_by = f"{c}, node_name, nodepool, capacity_type, instance_type, region, zone"
        self.karpenter_gpu = karpenter_resource_type(settings.gpu_resource)
        self.ksm_gpu = ksm_resource(settings.gpu_resource)

    # --- prices and nodes ---------------------------------------------------------------------
    def price(self) -> str:
        if self.s.price_source == "exporter":
            return f"max by (instance_type, capacity_type, region, zone) ({EXPORTER_PRICE})"
        return f"max by (instance_type, capacity_type, zone) ({KARPENTER_PRICE})"

    def node_gpus(self) -> str:
        selector = f'karpenter_nodes_allocatable{{resource_type="{self.karpenter_gpu}"}}'
        return f"max by ({self.node_by}) ({selector}) > 0"

    def node_unrequested(self) -> str:
        return (
            "clamp_min(\n"
            f"  {NODE_GPUS}\n"
            "  - (\n"
            f"    max by ({self.node_by}) "
            f'(karpenter_nodes_total_pod_requests{{resource_type="{self.karpenter_gpu}"}})\n'
            f"    or {NODE_GPUS} * 0\n"
            "  ),\n"
            "  0\n"
            ")"
        )

    def node_cost(self) -> str:
        zonal = (
            "(\n"
            f"  group by ({self.node_by}) ({NODE_GPUS})\n"
            "  * on (instance_type, capacity_type, zone) group_left ()\n"
            f'  max by (instance_type, capacity_type, zone) ({PRICE}{{zone!=""}})\n'
            ")"
        )
        if self.s.price_source == "karpenter":
            return zonal
        regional = (
            "(\n"
            f"  group by ({self.node_by}) ({NODE_GPUS})\n"
            "  * on (instance_type, capacity_type, region) group_left ()\n"
            f'  max by (instance_type, capacity_type, region) ({PRICE}{{zone=""}})\n'
            ")"
        )
        return f"{zonal}\nor\n{regional}"

    def node_gpu_price(self) -> str:
        return f"{NODE_COST} / {NODE_GPUS}"

    def node_underutilized(self) -> str:
        h = self.s.dcgm_node_label
        c = self.c
        threshold = number(self.s.idle_util_threshold_pct)
        return (
            "clamp_min(\n"
            "  label_replace(\n"
            f"    count by ({c}, {h}) (\n"
            f"      max by ({c}, {h}, gpu) "
            f"(avg_over_time(DCGM_FI_DEV_GPU_UTIL[{self.s.util_window}])) < {threshold}\n"
            "    ),\n"
            f'    "node_name", "$1", "{h}", "(.*)"\n'
            "  )\n"
            f"  - on ({c}, node_name) group_right ()\n"
            f"  {NODE_UNREQUESTED},\n"
            "  0\n"
            ")"
        )

    def node_idle_gpus(self) -> str:
        return f"{NODE_UNREQUESTED}\n+ ({NODE_UNDERUTILIZED} or {NODE_UNREQUESTED} * 0)"

    def node_idle_cost(self, series: str) -> str:
        return f"{series} * {NODE_GPU_PRICE}"

    # --- aggregations -------------------------------------------------------------------------
    def sum_by(self, labels: str, series: str) -> str:
        by = f"{self.c}, {labels}" if labels else self.c
        return f"sum by ({by}) ({series})"

    def cluster_cost_1h(self) -> str:
        return f"avg_over_time({CLUSTER_COST}[1h])"

    def nodepool_nodes(self) -> str:
        return f"count by ({self.c}, nodepool, capacity_type) ({NODE_GPUS})"

    def namespace_cost(self) -> str:
        c = self.c
        return (
            f"sum by ({c}, namespace) (\n"
            "  (\n"
            f"    sum by ({c}, namespace, pod, node) "
            f'(kube_pod_container_resource_requests{{resource="{self.ksm_gpu}"}})\n'
            f"    and on ({c}, namespace, pod) (max by ({c}, namespace, "
            f'pod) (kube_pod_status_phase{{phase="Running"}}) == 1)\n'
            "  )\n"
            f"  * on ({c}, node) group_left ()\n"
            f"  max by ({c}, node) (label_replace({NODE_GPU_PRICE}, "
            '"node", "$1", "node_name", "(.*)"))\n'
            ")"
        )

    def tenant_cost(self) -> str:
        c = self.c
        label = f"label_{self.s.tenant_label}"
        return (
            f"sum by ({c}, tenant) (\n"
            "  (\n"
            f"    {NAMESPACE_COST}\n"
            f"    * on ({c}, namespace) group_left (tenant)\n"
            "    label_replace(\n"
            "      label_replace(\n"
            f"        max by ({c}, namespace, {label}) (kube_namespace_labels),\n"
            '        "tenant", "$1", "namespace", "(.*)"\n'
            "      ),\n"
            f'      "tenant", "$1", "{label}", "(.+)"\n'
            "    )\n"
            "  )\n"
            "  or\n"
            "  label_replace(\n"
            f"    {NAMESPACE_COST} unless on ({c}, namespace) kube_namespace_labels,\n"
            '    "tenant", "$1", "namespace", "(.*)"\n'
            "  )\n"
            ")"
        )

    # --- budgets ------------------------------------------------------------------------------
    def burn_rate(self, window: str) -> str:
        return (
            f"sum by (tenant) (avg_over_time({TENANT_COST}[{window}]))\n"
            f"/ on (tenant)\n"
            f"({TENANT_BUDGET} / {number(self.s.hours_per_month)})"
        )

    # --- alerts -------------------------------------------------------------------------------
    def cost_above(self, threshold: Decimal) -> str:
        return f"{CLUSTER_COST} > {number(threshold)}"

    def cost_spike(self) -> str:
        ratio = number(self.s.spike_ratio)
        delta = number(self.s.spike_min_increase_usd_per_hour)
        return (
            "(\n"
            f"  {CLUSTER_COST_1H}\n"
            f"  > {ratio} * ({CLUSTER_COST_1H} offset 1w)\n"
            ")\n"
            "and\n"
            "(\n"
            f"  {CLUSTER_COST_1H}\n"
            f"  - ({CLUSTER_COST_1H} offset 1w)\n"
            f"  > {delta}\n"
            ")"
        )

    def spot_fallback(self) -> str:
        c = self.c
        od = f'{NODEPOOL_NODES}{{capacity_type="on-demand"}}'
        window = self.s.spot_fallback_window
        return (
            "(\n"
            f"  sum by ({c}, nodepool) ({od})\n"
            f"  - sum by ({c}, nodepool) (({od} offset {window}) or {od} * 0)\n"
            f") >= {self.s.spot_fallback_min_new_nodes}\n"
            f"and on ({c}, nodepool)\n"
            f'max_over_time({NODEPOOL_NODES}{{capacity_type="spot"}}[{self.s.spot_lookback}]) > 0'
        )

    def idle_node(self) -> str:
        return (
            f"sum without (reason) ({NODE_IDLE_COST})\n"
            f"and on ({self.c}, node_name)\n"
            f"({NODE_IDLE_GPUS} >= {NODE_GPUS})"
        )

    def budget_burn(self, pairs: list[tuple[str, str, float]]) -> str:
        parts = []
        for long, short, factor in pairs:
            f = number(factor)
            parts.append(
                f"(\n  {burn_rate_record(long)} > {f}\n  and\n  {burn_rate_record(short)} > {f}\n)"
            )
        return "\nor\n".join(parts)
