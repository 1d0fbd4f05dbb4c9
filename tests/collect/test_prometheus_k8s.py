"""kube-state-metrics next to Karpenter: node labels, label recency (fleet in prom_fleet.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import polars as pl
import pytest
from prom_fleet import T0, at

from costlab import store
from costlab.collect.prometheus import LABELS, PrometheusSettings, collect
from costlab.collect.prometheus.k8s import fill_pod_nodes, node_presence
from costlab.timeutil import Window

LABEL = "SELECT value FROM pod_labels WHERE pod = 'infer-0' AND key = 'model'"


@pytest.mark.service
def test_backfilling_an_old_window_keeps_the_newer_label_value(fleet_prometheus):
    """infer-0's model label is 'llama' before T0+60m and 'llama-3' after."""
    s = PrometheusSettings(url=fleet_prometheus.url)
    new_first = store.connect(":memory:")
    collect(new_first, window=Window(T0, at(480)), settings=s, groups=(LABELS,))
    assert new_first.execute(LABEL).fetchall() == [("llama-3",)]
    collect(new_first, window=Window(T0, at(120)), settings=s, groups=(LABELS,))
    assert new_first.execute(LABEL).fetchall() == [("llama-3",)]  # not overwritten by the past
    old_first = store.connect(":memory:")
    collect(old_first, window=Window(T0, at(120)), settings=s, groups=(LABELS,))
    assert old_first.execute(LABEL).fetchall() == [("llama",)]
    collect(old_first, window=Window(at(300), at(480)), settings=s, groups=(LABELS,))
    collect(old_first, window=Window(at(120), at(240)), settings=s, groups=(LABELS,))
    seen = "SELECT * FROM prometheus_pod_label_seen ORDER BY ALL"
    tables = ("SELECT * FROM pod_labels ORDER BY ALL", seen)
    assert [old_first.execute(q).fetchall() for q in tables] == [
        new_first.execute(q).fetchall() for q in tables
    ]
    assert new_first.execute(
        "SELECT last_seen_ts FROM prometheus_pod_label_seen WHERE pod = 'infer-0'"
    ).fetchall() == [(at(479),)]


def _frame(rows: list[dict]) -> pl.DataFrame:
    t = datetime(2026, 11, 1, tzinfo=UTC)
    return pl.DataFrame(
        [{"cluster": "c", "ts": t + timedelta(seconds=15 * r.pop("i")), **r} for r in rows]
    ).with_columns(pl.col("ts").dt.cast_time_unit("us"))


def test_eks_node_group_labels_and_dcgm_make_a_node():
    frame = _frame(
        [
            # EKS managed node group: kube-state-metrics snake-cases capacityType.
            {
                "i": i,
                "metric": "kube_node_labels",
                "value": 1.0,
                "node": "ip-10-0-0-1",
                "label_eks_amazonaws_com_capacity_type": "ON_DEMAND",
                "label_eks_amazonaws_com_nodegroup": "gpu-ng",
                "label_node_kubernetes_io_instance_type": "g6.xlarge",
                "label_topology_kubernetes_io_zone": "eu-west-1b",
            }
            for i in range(3)
        ]
        + [
            {
                "i": i,
                "metric": "dcgm_gpus_by_node",
                "value": 1.0,
                "Hostname": "ip-10-0-0-1",
                "modelName": "NVIDIA L4",
            }
            for i in (0, 2)  # DCGM missed a scrape at i=1; a GPU label would cover it
        ]
        + [{"i": 0, "metric": "kube_node_labels", "value": 1.0, "node": "cpu-1"}]
    )
    nodes, mismatches = node_presence(frame)
    got = nodes.sort("ts").select(
        "node_name",
        "nodepool",
        "instance_type",
        "capacity_type",
        "region",
        "zone",
        "instance_gpu_name",
        "value",
    )
    assert (
        got.rows()
        == [
            (
                "ip-10-0-0-1",
                "gpu-ng",
                "g6.xlarge",
                "on-demand",
                "eu-west-1",
                "eu-west-1b",
                "l4",
                1.0,
            )
        ]
        * 2
    )
    assert mismatches.height == 0


def test_request_without_node_label_gets_the_pod_info_node():
    frame = _frame(
        [
            {
                "i": 0,
                "metric": "kube_pod_container_resource_requests",
                "value": 1.0,
                "namespace": "ns",
                "pod": "p",
                "resource": "nvidia_com_gpu",
            },
            {
                "i": 0,
                "metric": "kube_pod_info",
                "value": 1.0,
                "namespace": "ns",
                "pod": "p",
                "node": "n1",
            },
            {
                "i": 1,
                "metric": "kube_pod_container_resource_requests",
                "value": 1.0,
                "namespace": "ns",
                "pod": "p",
                "resource": "nvidia_com_gpu",
            },
        ]
    )
    assert fill_pod_nodes(frame).sort("ts")["node"].to_list() == ["n1", None]
