"""Random small fleets for the differential tests: a hypothesis strategy writing raw tables."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import polars as pl
from hypothesis import strategies as st

from costlab import store

T0 = datetime(2026, 3, 1, tzinfo=UTC)
HOURS = 3
TYPES = {
    "g5.12xlarge": (4, "A10G"),
    "p4d.24xlarge": (8, "A100"),
    "g5.xlarge": (1, "A10G"),
    "m5.large": (0, ""),
}
RESOURCES = ("nvidia.com/gpu", "nvidia.com/gpu", "nvidia.com/mig-1g.10gb", "nvidia.com/gpu.shared")


def _ts(seconds: int) -> datetime:
    return T0 + timedelta(seconds=seconds)


@st.composite
def fleets(draw) -> dict[str, list[dict]]:
    """1-2 clusters of 1-3 nodes over 3 hours; pods, labels, prices with a change, DCGM samples."""
    span = HOURS * 3600
    rows: dict[str, list[dict]] = {
        k: []
        for k in (
            "nodes",
            "prices",
            "pod_gpu_requests",
            "pod_labels",
            "namespace_labels",
            "gpu_samples",
        )
    }
    for itype in TYPES:
        rows["prices"].append(
            {
                "instance_type": itype,
                "region": "us-east-1",
                "zone": "",
                "capacity_type": "on-demand",
                "source": "pricing-api",
                "effective_from": T0 - timedelta(days=1),
                "usd_micros_per_hour": draw(st.integers(100_000, 40_000_000)),
            }
        )
        if draw(st.booleans()):
            rows["prices"].append(
                {
                    "instance_type": itype,
                    "region": "us-east-1",
                    "zone": "us-east-1a",
                    "capacity_type": "on-demand",
                    "source": "manual",
                    "effective_from": _ts(draw(st.integers(0, span))),
                    "usd_micros_per_hour": draw(st.integers(100_000, 40_000_000)),
                }
            )
    for c in range(draw(st.integers(1, 2))):
        cluster = f"c{c}"
        for n in range(draw(st.integers(1, 3))):
            node = f"n{n}"
            itype = draw(st.sampled_from(sorted(TYPES)))
            gpus, model = TYPES[itype]
            start = draw(st.integers(-3600, span - 60))
            end = draw(st.one_of(st.none(), st.integers(start + 60, span + 3600)))
            rows["nodes"].append(
                {
                    "cluster": cluster,
                    "node": node,
                    "start_ts": _ts(start),
                    "end_ts": None if end is None else _ts(end),
                    "nodepool": draw(st.sampled_from(["", "train", "serve"])),
                    "instance_type": itype,
                    "capacity_type": "on-demand",
                    "region": "us-east-1",
                    "zone": draw(st.sampled_from(["us-east-1a", "us-east-1b"])),
                    "gpu_count": gpus,
                    "gpu_model": model or None,
                }
            )
            for p in range(draw(st.integers(0, 4))):
                ns = draw(st.sampled_from(["ml", "web", "batch"]))
                pod = f"{node}-p{p}"
                p_start = draw(st.integers(start, start + 3 * 3600))
                p_end = draw(st.one_of(st.none(), st.integers(p_start + 1, p_start + 4 * 3600)))
                rows["pod_gpu_requests"].append(
                    {
                        "cluster": cluster,
                        "namespace": ns,
                        "pod": pod,
                        "container": "main",
                        "gpu_resource": draw(st.sampled_from(RESOURCES)),
                        "start_ts": _ts(p_start),
                        "end_ts": None if p_end is None else _ts(p_end),
                        "node": node,
                        "quantity": float(draw(st.integers(1, 9))),
                    }
                )
                if draw(st.booleans()):
                    rows["pod_labels"].append(
                        {
                            "cluster": cluster,
                            "namespace": ns,
                            "pod": pod,
                            "key": "team",
                            "value": draw(st.sampled_from(["a", "b"])),
                        }
                    )
                if draw(st.booleans()):
                    rows["pod_labels"].append(
                        {
                            "cluster": cluster,
                            "namespace": ns,
                            "pod": pod,
                            "key": "model",
                            "value": "llama",
                        }
                    )
                for k in range(draw(st.integers(0, 6))):
                    ts = p_start + k * draw(st.sampled_from([15, 30, 400]))
                    rows["gpu_samples"].append(
                        {
                            "ts": _ts(ts),
                            "cluster": cluster,
                            "node": node,
                            "gpu_index": 0,
                            "gpu_uuid": f"GPU-{pod}",
                            "mig_instance_id": -1,
                            "namespace": ns,
                            "pod": pod,
                            "util_pct": float(draw(st.integers(0, 100))),
                            "engine_active_ratio": 0.5,
                        }
                    )
        for ns in ("ml", "web"):
            if draw(st.booleans()):
                rows["namespace_labels"].append(
                    {"cluster": cluster, "namespace": ns, "key": "team", "value": f"team-{ns}"}
                )
    return rows


def load_fleet(conn, rows: dict[str, list[dict]]) -> None:
    for table, data in rows.items():
        if data:
            store.upsert(conn, table, pl.DataFrame(data).to_arrow())
