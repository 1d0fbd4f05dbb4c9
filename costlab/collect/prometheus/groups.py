"""The groups of series the Prometheus collector reads, each with its loader.

A group's queries are fetched together per chunk and loaded in one transaction with their
watermarks; groups are independent of each other (docs/collect-prometheus.md, "What is read").
The queries depend on two settings: `accelerator_resources` (spelled as Karpenter and
kube-state-metrics write them) and `dcgm_node_label`; `groups_for` builds them, the module
constants are the defaults and name the groups callers pick.
"""

from __future__ import annotations

from costlab.collect import accelerators as acc
from costlab.collect import series
from costlab.collect.prometheus import k8s as prom_k8s
from costlab.collect.prometheus.context import Group
from costlab.collect.prometheus.loaders import (
    COUNTER_METRICS,
    PRICE_METRIC,
    load_counters,
    load_labels,
    load_prices,
)
from costlab.collect.prometheus.nodes import DISRUPTED_METRIC, load_nodes
from costlab.collect.prometheus.pods import load_pods
from costlab.collect.prometheus.query import Query
from costlab.collect.prometheus.samples import load_gpu_samples
from costlab.collect.prometheus.settings import PrometheusSettings

NODE_LABELS = Query(prom_k8s.NODE_LABELS_METRIC)


def dcgm_gpus_by_node(node_labels: tuple[str, ...]) -> Query:
    """GPUs per node as DCGM sees them (distinct UUIDs). Grouping by every node label spelling
    works whichever one a series has: an absent label is an empty grouping value."""
    by = ", ".join(("{cluster}", *node_labels, "modelName"))
    return Query(
        "DCGM_FI_DEV_FB_USED",
        alias=prom_k8s.DCGM_GPUS_BY_NODE,
        wrap=f"count by ({by}) (count by ({by}, UUID) ({{expr}}))",
        count_with=NODE_LABELS,
    )


def groups_for(
    resources: tuple[str, ...] = acc.DEFAULT_RESOURCES, node_label: str | None = None
) -> dict[str, Group]:
    node_labels = (*series.DCGM_NODE_LABELS, *([node_label] if node_label else []))
    ksm_alloc = Query(prom_k8s.NODE_ALLOCATABLE_METRIC, acc.ksm_node_matcher(resources))
    nodes = Group(
        "nodes",
        (
            Query(series.NODE_METRIC, acc.karpenter_matcher(resources)),
            Query(DISRUPTED_METRIC, lookback=True),
            NODE_LABELS,
            # Nodes outside Karpenter (EKS managed node groups) without a label allowlist.
            ksm_alloc,
            Query(
                prom_k8s.NODE_INFO_METRIC,
                only_with=ksm_alloc,
                on="{cluster}, node",
                count_with=ksm_alloc,
            ),
            # GPUs per node as DCGM sees them: presence and GPU count of non-Karpenter nodes.
            dcgm_gpus_by_node(node_labels),
        ),
        load_nodes,
    )
    requests = Query(series.POD_REQUEST_METRIC, acc.ksm_request_matcher(resources))
    pods = Group(
        "pod_gpu_requests",
        (
            requests,
            # Only pods that request GPUs: pod -> node when the request series has no `node`.
            Query(prom_k8s.POD_INFO_METRIC, only_with=requests, count_with=requests),
            Query(prom_k8s.POD_REQUESTS_TOTAL_METRIC, acc.karpenter_matcher(resources)),
        ),
        load_pods,
    )
    dcgm = Group("gpu_samples", tuple(Query(m) for m in series.DCGM_FIELDS), load_gpu_samples)
    labels = Group(
        "labels",
        (Query(series.POD_LABELS_METRIC), Query(series.NAMESPACE_LABELS_METRIC)),
        load_labels,
    )
    prices = Group("prices", (Query(PRICE_METRIC),), load_prices, price_step=True)
    counters = Group(
        "counters", tuple(Query(m, lookback=True) for m in COUNTER_METRICS), load_counters
    )
    return {g.name: g for g in (nodes, pods, dcgm, labels, prices, counters)}


def resolve(groups: tuple[Group, ...], settings: PrometheusSettings) -> tuple[Group, ...]:
    """The named groups with queries for `settings`."""
    built = groups_for(tuple(settings.accelerator_resources), settings.dcgm_node_label)
    return tuple(built.get(g.name, g) for g in groups)


_DEFAULT = groups_for()
NODES = _DEFAULT["nodes"]
PODS = _DEFAULT["pod_gpu_requests"]
GPU_REQUESTS = PODS.queries[0]
DCGM = _DEFAULT["gpu_samples"]
LABELS = _DEFAULT["labels"]
PRICES = _DEFAULT["prices"]
COUNTERS = _DEFAULT["counters"]
GROUPS: tuple[Group, ...] = (NODES, PODS, DCGM, LABELS, PRICES, COUNTERS)
