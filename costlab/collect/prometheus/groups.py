"""The groups of series the Prometheus collector reads, each with its loader.

A group's queries are fetched together per chunk and loaded in one transaction with their
watermarks; groups are independent of each other (docs/collect-prometheus.md, "What is read").
"""

from __future__ import annotations

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

DCGM = Group("gpu_samples", tuple(Query(m) for m in series.DCGM_FIELDS), load_gpu_samples)
NODE_LABELS = Query(prom_k8s.NODE_LABELS_METRIC)
NODES = Group(
    "nodes",
    (
        Query(series.NODE_METRIC, 'resource_type="nvidia_com_gpu"'),
        Query(DISRUPTED_METRIC, lookback=True),
        NODE_LABELS,
        # GPUs per node as DCGM sees them: gives non-Karpenter nodes their presence and GPU count.
        Query(
            "DCGM_FI_DEV_FB_USED",
            alias=prom_k8s.DCGM_GPUS_BY_NODE,
            wrap="count by ({cluster}, Hostname, modelName) "
            "(count by ({cluster}, Hostname, modelName, UUID) ({expr}))",
            count_with=NODE_LABELS,
        ),
    ),
    load_nodes,
)
GPU_REQUESTS = Query(series.POD_REQUEST_METRIC, 'resource=~"nvidia_com_(gpu|gpu_shared|mig_.+)"')
PODS = Group(
    "pod_gpu_requests",
    (
        GPU_REQUESTS,
        # Only pods that request GPUs: pod -> node when the request series has no `node`.
        Query(prom_k8s.POD_INFO_METRIC, only_with=GPU_REQUESTS, count_with=GPU_REQUESTS),
        Query(prom_k8s.POD_REQUESTS_TOTAL_METRIC, f'resource_type="{prom_k8s.GPU_RESOURCE_TYPE}"'),
    ),
    load_pods,
)
LABELS = Group(
    "labels", (Query(series.POD_LABELS_METRIC), Query(series.NAMESPACE_LABELS_METRIC)), load_labels
)
PRICES = Group("prices", (Query(PRICE_METRIC),), load_prices, price_step=True)
COUNTERS = Group("counters", tuple(Query(m, lookback=True) for m in COUNTER_METRICS), load_counters)
GROUPS: tuple[Group, ...] = (NODES, PODS, DCGM, LABELS, PRICES, COUNTERS)
