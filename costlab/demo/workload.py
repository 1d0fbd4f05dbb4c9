"""The demo's entities over time: load curves, pods and nodes as minute-indexed intervals.

Time is an integer minute index t in [0, n_minutes) from the demo start. Everything is drawn
from one numpy Generator in a fixed order, so a seed always gives the same fleet. Loops run over
entities (services, replicas, node runs, jobs), never over minutes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np

from costlab.demo import profiles as P
from costlab.demo.fleet import Cluster, Fleet, MigPool, ScheduledBatch, Service, TrainingQueue


@dataclass
class Clock:
    """Local time of every minute for one cluster's timezone."""

    local_hour: np.ndarray  # float hour of day, local
    weekday: np.ndarray  # 0 = Monday, local
    local_day: np.ndarray  # local calendar day index from the start


def make_clock(start: datetime, n_minutes: int, tz: str) -> Clock:
    zone = ZoneInfo(tz)
    # Offsets change only at DST switches: compute per hour, repeat per minute.
    hours = n_minutes // 60 + 1
    local = [(start + timedelta(hours=h)).astimezone(zone) for h in range(hours)]
    hour = np.repeat(np.array([d.hour for d in local], dtype=float), 60)[:n_minutes]
    minute_frac = (np.arange(n_minutes) % 60) / 60.0
    weekday = np.repeat(np.array([d.weekday() for d in local]), 60)[:n_minutes]
    ordinal = np.array([d.toordinal() for d in local])
    day = np.repeat(ordinal - ordinal[0], 60)[:n_minutes]
    return Clock(hour + minute_frac, weekday, day)


@dataclass
class NodeRun:
    cluster: str
    node: str
    nodepool: str
    instance_type: str
    capacity_type: str
    zone: str
    start: int
    end: int
    end_reason: str | None
    mig_profile: str | None = None
    mig_slices: int = 0


@dataclass
class PodRun:
    cluster: str
    namespace: str
    pod: str
    node: str
    start: int
    end: int
    gpu_resource: str
    quantity: float
    gpu_offset: int  # first GPU (or MIG slice) index on the node
    gpus: int  # GPUs (or slices) held
    labels: dict[str, str]
    signal: str  # key into Workload.util: which utilisation curve drives its GPUs
    model_fb_mib: float


@dataclass
class Workload:
    n_minutes: int
    nodes: list[NodeRun] = field(default_factory=list)
    pods: list[PodRun] = field(default_factory=list)
    util: dict[str, np.ndarray] = field(default_factory=dict)  # per-minute util_pct curves
    load: dict[str, np.ndarray] = field(default_factory=dict)  # per-minute 0..1 service load
    node_gpus: dict[str, tuple[int, str, int]] = field(
        default_factory=dict
    )  # node -> (gpus, model, mem)


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """[start, end) index pairs of the True runs of a boolean array."""
    padded = np.concatenate(([False], mask, [False])).astype(np.int8)
    edges = np.flatnonzero(np.diff(padded))
    return list(zip(edges[0::2].tolist(), edges[1::2].tolist(), strict=True))


def _dilate(mask: np.ndarray, back: int, fwd: int) -> np.ndarray:
    """True at t when mask is True somewhere in [t - fwd, t + back] (node up around its pods)."""
    n = mask.size
    cs = np.concatenate(([0], np.cumsum(mask, dtype=np.int64)))
    t = np.arange(n)
    lo = np.clip(t - fwd, 0, n)
    hi = np.clip(t + back + 1, 0, n)
    return (cs[hi] - cs[lo]) > 0


class FleetBuilder:
    def __init__(
        self,
        fleet: Fleet,
        specs: dict[str, tuple[int, str, int]],
        start: datetime,
        n_minutes: int,
        seed: int,
    ):
        self.fleet = fleet
        self.specs = specs
        self.start = start
        self.n = n_minutes
        self.rng = np.random.default_rng(seed)
        self.clocks = {c.name: make_clock(start, n_minutes, c.timezone) for c in fleet.clusters}
        self.w = Workload(n_minutes)
        self._serial = 0

    def build(self) -> Workload:
        for svc in self.fleet.services:
            self._service(svc)
        for queue in self.fleet.training:
            self._training(queue)
        for batch in self.fleet.batches:
            self._batch(batch)
        for mig in self.fleet.mig:
            self._mig(mig)
        return self.w

    # -- names -----------------------------------------------------------------------------
    def _node_name(self, cluster: Cluster) -> str:
        self._serial += 1
        octets = self.rng.integers(0, 256, size=2)
        domain = (
            "ec2.internal"
            if cluster.region == "us-east-1"
            else f"{cluster.region}.compute.internal"
        )
        return f"ip-10-{self._serial % 250}-{octets[0]}-{octets[1]}.{domain}"

    def _pod_name(self, base: str) -> str:
        letters = "bcdfghjklmnpqrstvwxz2456789"
        suffix = "".join(letters[i] for i in self.rng.integers(0, len(letters), size=5))
        return f"{base}-{suffix}"

    def _add_node(
        self,
        cluster: Cluster,
        pool: str,
        itype: str,
        start: int,
        end: int,
        reason: str | None,
        capacity: str | None = None,
        mig: tuple[str, int] | None = None,
    ) -> NodeRun:
        nodepool = cluster.pool(pool)
        run = NodeRun(
            cluster.name,
            self._node_name(cluster),
            pool,
            itype,
            capacity or nodepool.capacity_type,
            cluster.zones[int(self.rng.integers(0, len(cluster.zones)))],
            max(0, start),
            min(self.n, end),
            None if end >= self.n else reason,
            mig_profile=mig[0] if mig else None,
            mig_slices=mig[1] if mig else 0,
        )
        self.w.nodes.append(run)
        self.w.node_gpus[run.node] = self.specs[itype]
        return run

    # -- inference services ------------------------------------------------------------------
    def _load_curve(self, svc: Service) -> np.ndarray:
        clock = self.clocks[svc.cluster]
        diurnal = np.interp(
            clock.local_hour, np.arange(25), np.array(P.DIURNAL_LOAD + P.DIURNAL_LOAD[:1])
        )
        weekend = np.where(clock.weekday >= 5, svc.weekend_factor or P.WEEKEND_LOAD_FACTOR, 1.0)
        daily = self.rng.lognormal(0.0, P.DAILY_LOAD_SIGMA, size=int(clock.local_day.max()) + 1)[
            clock.local_day
        ]
        slots = self.rng.lognormal(0.0, P.SLOT_LOAD_SIGMA, size=self.n // P.AUTOSCALE_SLOT_MIN + 1)
        jitter = np.repeat(slots, P.AUTOSCALE_SLOT_MIN)[: self.n]
        return np.clip(diurnal * weekend * daily * jitter, 0.0, 1.0)

    def _service(self, svc: Service) -> None:
        cluster = self.fleet.cluster(svc.cluster)
        pool = cluster.pool(svc.nodepool)
        gpus, _, _ = self.specs[svc.instance_type]
        load = self._load_curve(svc) if svc.kind == "inference" else np.zeros(self.n)
        self.w.load[svc.name] = load
        # The autoscaler sizes replicas from the load averaged over each slot.
        slot = P.AUTOSCALE_SLOT_MIN
        padded = np.concatenate([load, np.zeros((-self.n) % slot)])
        slot_load = padded.reshape(-1, slot).mean(axis=1)
        replicas_slot = np.clip(
            np.ceil(svc.max_replicas * slot_load), svc.min_replicas, svc.max_replicas
        )
        replicas = np.repeat(replicas_slot, slot)[: self.n].astype(int)
        if svc.kind == "inference":
            per_replica = np.clip(load * svc.max_replicas / np.maximum(replicas, 1), 0, 1)
            util = P.UTIL_AT_IDLE_LOAD + (P.UTIL_AT_FULL_LOAD - P.UTIL_AT_IDLE_LOAD) * per_replica
        else:
            util = np.full(self.n, P.NOTEBOOK_UTIL_PCT)
        self.w.util[svc.name] = util
        per_node = max(1, gpus // svc.gpus_per_replica)
        labels = {"app.kubernetes.io/name": svc.name, "workload-kind": svc.kind}
        if svc.model:
            labels["model"] = svc.model
        if svc.team:
            labels["team"] = svc.team
        for slot_index in range(int(np.ceil(svc.max_replicas / per_node))):
            active = replicas > slot_index * per_node
            alive = _dilate(active, P.PROVISION_LEAD_MIN, pool.consolidate_after_min)
            for a, b in _runs(alive):
                pieces = self._interrupt(cluster, pool, svc.instance_type, a, b)
                for k in range(per_node):
                    replica = slot_index * per_node + k
                    if replica >= svc.max_replicas:
                        break
                    for pa, pb in _runs(replicas > replica):
                        for node, na, nb in pieces:
                            lo, hi = max(pa, na), min(pb, nb)
                            if hi > lo:
                                self.w.pods.append(
                                    PodRun(
                                        cluster.name,
                                        svc.namespace,
                                        self._pod_name(svc.name),
                                        node.node,
                                        lo,
                                        hi,
                                        "nvidia.com/gpu",
                                        float(svc.gpus_per_replica),
                                        k * svc.gpus_per_replica,
                                        svc.gpus_per_replica,
                                        labels,
                                        svc.name,
                                        svc.model_fb_mib,
                                    )
                                )

    def _interrupt(
        self, cluster: Cluster, pool, itype: str, a: int, b: int
    ) -> list[tuple[NodeRun, int, int]]:
        """A node run, cut by spot interruptions into (node, pods_from, pods_until) pieces."""
        if pool.capacity_type != "spot":
            return [
                (
                    self._add_node(cluster, pool.name, itype, a, b, "consolidated"),
                    a + P.PROVISION_LEAD_MIN,
                    b,
                )
            ]
        rate = P.SPOT_INTERRUPTIONS_PER_NODE_HOUR / 60.0
        count = int(self.rng.poisson(rate * (b - a)))
        cuts = sorted(int(x) for x in self.rng.integers(a + 1, max(a + 2, b), size=count))
        pieces: list[tuple[NodeRun, int, int]] = []
        lo, capacity, pool_name = a, "spot", pool.name
        for cut in cuts + [b]:
            if cut <= lo + P.REPROVISION_MIN or (capacity == "on-demand" and cut < b):
                continue  # too close to the last cut, or on on-demand fallback: not interruptible
            reason = "interrupted" if cut < b else "consolidated"
            node = self._add_node(cluster, pool_name, itype, lo, cut, reason, capacity=capacity)
            pieces.append(
                (node, lo + (P.PROVISION_LEAD_MIN if lo == a else P.REPROVISION_MIN), cut)
            )
            lo = cut
            if self.rng.random() < P.SPOT_FALLBACK_TO_ON_DEMAND and pool.fallback:
                capacity, pool_name = "on-demand", pool.fallback
            else:
                capacity, pool_name = "spot", pool.name
        return pieces

    # -- training, batch, MIG ------------------------------------------------------------------
    def _training(self, q: TrainingQueue) -> None:
        cluster = self.fleet.cluster(q.cluster)
        pool = cluster.pool(q.nodepool)
        gpus, _, _ = self.specs[q.instance_type]
        days = self.n / 1440
        starts = np.sort(
            self.rng.integers(0, self.n, size=int(self.rng.poisson(q.jobs_per_day * days)))
        )
        util = np.full(self.n, P.TRAINING_UTIL_PCT)
        util[np.arange(self.n) % 60 < 3] = 20.0  # checkpoint every hour stalls the GPUs briefly
        self.w.util[q.name] = util
        for job, s in enumerate(starts.tolist()):
            minutes = int(self.rng.uniform(*q.hours) * 60)
            job_name = f"{q.name}-{self.start:%m%d}-{job:03d}"
            for worker in range(q.nodes_per_job):
                node = self._add_node(
                    cluster,
                    q.nodepool,
                    q.instance_type,
                    s - P.PROVISION_LEAD_MIN,
                    s + minutes + pool.consolidate_after_min,
                    "consolidated",
                )
                if min(self.n, s + minutes) > s:
                    self.w.pods.append(
                        PodRun(
                            cluster.name,
                            q.namespace,
                            f"{job_name}-worker-{worker}",
                            node.node,
                            s,
                            min(self.n, s + minutes),
                            "nvidia.com/gpu",
                            float(gpus),
                            0,
                            gpus,
                            {"team": q.team, "workload-kind": "training", "job-name": job_name},
                            q.name,
                            0.9,
                        )
                    )

    def _batch(self, b: ScheduledBatch) -> None:
        cluster = self.fleet.cluster(b.cluster)
        clock = self.clocks[b.cluster]
        weekday = clock.weekday < 5
        pool_up = (
            weekday & (clock.local_hour >= b.pool_hours[0]) & (clock.local_hour < b.pool_hours[1])
        )
        jobs_up = np.zeros(self.n, dtype=bool)
        for lo, hi in b.job_hours:
            jobs_up |= weekday & (clock.local_hour >= lo) & (clock.local_hour < hi)
        self.w.util[b.name] = np.full(self.n, 85.0)
        for a, e in _runs(pool_up):
            for _ in range(b.nodes):
                node = self._add_node(cluster, b.nodepool, b.instance_type, a, e, "expired")
                for ja, je in _runs(jobs_up[a:e]):
                    self.w.pods.append(
                        PodRun(
                            cluster.name,
                            b.namespace,
                            self._pod_name(b.name),
                            node.node,
                            a + ja,
                            a + je,
                            "nvidia.com/gpu",
                            float(b.gpus_per_pod),
                            0,
                            b.gpus_per_pod,
                            {
                                "team": b.team,
                                "workload-kind": "batch",
                                "app.kubernetes.io/name": b.name,
                            },
                            b.name,
                            14000.0,
                        )
                    )

    def _mig(self, m: MigPool) -> None:
        cluster = self.fleet.cluster(m.cluster)
        clock = self.clocks[m.cluster]
        gpus, _, _ = self.specs[m.instance_type]
        slices = gpus * m.slices_per_gpu
        node = self._add_node(
            cluster, m.nodepool, m.instance_type, 0, self.n, None, mig=(m.profile, m.slices_per_gpu)
        )
        self.w.util[m.name] = np.full(self.n, 35.0)
        resource = f"nvidia.com/mig-{m.profile}"
        days = int(clock.local_day.max()) + 1
        for s in range(slices):
            namespace, team = m.teams[s % len(m.teams)]
            for day in range(days):
                in_day = np.flatnonzero((clock.local_day == day) & (clock.weekday < 5))
                if in_day.size == 0 or self.rng.random() > m.busy_share:
                    continue
                hours = clock.local_hour[in_day]
                begin = (
                    in_day[np.searchsorted(hours, 9.0 + self.rng.uniform(0, 1))]
                    if hours.max() > 10
                    else in_day[0]
                )
                stop_hour = 17.0 + self.rng.uniform(0, 2)
                stop = in_day[min(int(np.searchsorted(hours, stop_hour)), in_day.size - 1)]
                if stop > begin:
                    self.w.pods.append(
                        PodRun(
                            cluster.name,
                            namespace,
                            self._pod_name(f"{team}-notebook"),
                            node.node,
                            int(begin),
                            int(stop),
                            resource,
                            1.0,
                            s,
                            1,
                            {"team": team, "workload-kind": "notebook"},
                            m.name,
                            6000.0,
                        )
                    )
