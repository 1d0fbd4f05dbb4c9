"""The demo fleet: clusters, NodePools and the workloads that run on them.

Three clusters as an EKS team would run them: two inference regions and one training cluster.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class NodePool:
    name: str
    capacity_type: str  # spot | on-demand
    consolidate_after_min: int
    fallback: str | None = None  # on-demand pool that takes spot interruptions' replacements


@dataclass(frozen=True)
class Cluster:
    name: str
    region: str
    timezone: str
    zones: tuple[str, ...]
    nodepools: tuple[NodePool, ...]

    def pool(self, name: str) -> NodePool:
        return next(p for p in self.nodepools if p.name == name)


@dataclass(frozen=True)
class Service:
    """An autoscaled inference Deployment."""

    name: str
    cluster: str
    namespace: str
    team: str | None  # None: the namespace has no team label (its team is the namespace)
    model: str
    nodepool: str
    instance_type: str
    gpus_per_replica: int
    min_replicas: int
    max_replicas: int
    token_trace: str | None  # azure-conv | azure-code | mooncake | None (not an LLM)
    peak_rpm: float = 0.0  # requests per minute at peak load
    kind: str = "inference"
    weekend_factor: float | None = None
    model_fb_mib: float = 0.0  # weights + KV cache reservation per GPU


@dataclass(frozen=True)
class TrainingQueue:
    """Fine-tuning jobs arriving at random: n_nodes x full nodes for hours."""

    name: str
    cluster: str
    namespace: str
    team: str
    nodepool: str
    instance_type: str
    jobs_per_day: float
    nodes_per_job: int
    hours: tuple[float, float]


@dataclass(frozen=True)
class ScheduledBatch:
    """A scheduled pool: nodes scale up and down on a clock, batch pods run inside it."""

    name: str
    cluster: str
    namespace: str
    team: str
    nodepool: str
    instance_type: str
    nodes: int
    pool_hours: tuple[int, int]  # local hours the scheduled pool is up
    job_hours: tuple[tuple[int, int], ...]  # local hours batch pods run (lunch gap)
    gpus_per_pod: int = 4


@dataclass(frozen=True)
class MigPool:
    """One MIG-partitioned node kept for notebooks; pods request one 1g.10gb slice each."""

    name: str
    cluster: str
    nodepool: str
    instance_type: str
    profile: str
    slices_per_gpu: int
    teams: tuple[tuple[str, str], ...]  # (namespace, team)
    busy_share: float  # share of slices in use in business hours


@dataclass(frozen=True)
class Fleet:
    clusters: tuple[Cluster, ...]
    services: tuple[Service, ...]
    training: tuple[TrainingQueue, ...]
    batches: tuple[ScheduledBatch, ...]
    mig: tuple[MigPool, ...]
    namespaces_without_team: tuple[str, ...] = field(default=("sandbox",))

    def cluster(self, name: str) -> Cluster:
        return next(c for c in self.clusters if c.name == name)


_SPOT_USE1 = NodePool("gpu-inference-spot", "spot", 5, fallback="gpu-inference-ondemand")
_SPOT_USW2 = NodePool("gpu-inference-spot", "spot", 5, fallback="gpu-inference-ondemand")

DEMO_FLEET = Fleet(
    clusters=(
        Cluster(
            "prod-use1",
            "us-east-1",
            "America/New_York",
            ("us-east-1a", "us-east-1b", "us-east-1c"),
            (
                _SPOT_USE1,
                NodePool("gpu-inference-ondemand", "on-demand", 10),
                NodePool("small-models", "on-demand", 10),
                NodePool("large-models", "on-demand", 30),
                NodePool("h200", "on-demand", 30),
                NodePool("batch-scheduled", "on-demand", 0),
            ),
        ),
        Cluster(
            "prod-usw2",
            "us-west-2",
            "America/Los_Angeles",
            ("us-west-2a", "us-west-2b", "us-west-2c"),
            (
                _SPOT_USW2,
                NodePool("gpu-inference-ondemand", "on-demand", 10),
                NodePool("small-models", "on-demand", 10),
            ),
        ),
        Cluster(
            "train-use1",
            "us-east-1",
            "America/New_York",
            ("us-east-1a", "us-east-1d"),
            (
                NodePool("training-ondemand", "on-demand", 30),
                NodePool("mig-notebooks", "on-demand", 0),
            ),
        ),
    ),
    services=(
        Service(
            "chat-llama70b",
            "prod-use1",
            "chat-assistant",
            "assistant",
            "llama-3.1-70b-instruct",
            "gpu-inference-spot",
            "p4d.24xlarge",
            8,
            1,
            4,
            "azure-conv",
            peak_rpm=60.0,
            model_fb_mib=36000,
        ),
        Service(
            "search-mixtral",
            "prod-use1",
            "search",
            "search",
            "mixtral-8x7b-instruct",
            "gpu-inference-spot",
            "g5.12xlarge",
            2,
            2,
            7,
            "azure-conv",
            peak_rpm=45.0,
            model_fb_mib=21000,
        ),
        Service(
            "codegen-8b",
            "prod-use1",
            "code-copilot",
            "devtools",
            "llama-3.1-8b-instruct",
            "small-models",
            "g5.xlarge",
            1,
            3,
            12,
            "azure-code",
            peak_rpm=90.0,
            weekend_factor=0.25,
            model_fb_mib=19000,
        ),
        Service(
            "docqa-70b-long",
            "prod-use1",
            "doc-ai",
            "docai",
            "llama-3.1-70b-instruct",
            "large-models",
            "p5.48xlarge",
            8,
            1,
            2,
            "mooncake",
            peak_rpm=20.0,
            model_fb_mib=70000,
        ),
        Service(
            "frontier-405b",
            "prod-use1",
            "frontier-lab",
            "research",
            "llama-3.1-405b-instruct",
            "h200",
            "p5en.48xlarge",
            8,
            1,
            2,
            "mooncake",
            peak_rpm=6.0,
            model_fb_mib=120000,
        ),
        Service(
            "sandbox-notebook",
            "prod-use1",
            "sandbox",
            None,
            "",
            "small-models",
            "g5.2xlarge",
            1,
            1,
            1,
            None,
            kind="notebook",
        ),
        Service(
            "chat-mixtral-west",
            "prod-usw2",
            "chat-assistant",
            "assistant",
            "mixtral-8x7b-instruct",
            "gpu-inference-spot",
            "g5.48xlarge",
            4,
            1,
            6,
            "azure-conv",
            peak_rpm=40.0,
            model_fb_mib=21000,
        ),
        Service(
            "codegen-8b-west",
            "prod-usw2",
            "code-copilot",
            "devtools",
            "llama-3.1-8b-instruct",
            "small-models",
            "g5.xlarge",
            1,
            2,
            6,
            "azure-code",
            peak_rpm=45.0,
            weekend_factor=0.25,
            model_fb_mib=19000,
        ),
        Service(
            "recsys-ranker",
            "prod-usw2",
            "recsys",
            "recsys",
            "recsys-ranker",
            "small-models",
            "g5.2xlarge",
            1,
            2,
            5,
            None,
            model_fb_mib=9000,
        ),
    ),
    training=(
        TrainingQueue(
            "finetune",
            "train-use1",
            "ml-research",
            "research",
            "training-ondemand",
            "p4d.24xlarge",
            1.2,
            4,
            (4.0, 12.0),
        ),
        TrainingQueue(
            "fraud-train",
            "train-use1",
            "fraud-models",
            "risk",
            "training-ondemand",
            "p4d.24xlarge",
            0.8,
            1,
            (2.0, 6.0),
        ),
    ),
    batches=(
        ScheduledBatch(
            "embed-batch",
            "prod-use1",
            "batch-embeddings",
            "platform",
            "batch-scheduled",
            "g5.12xlarge",
            3,
            (8, 20),
            ((9, 12), (13, 18)),
        ),
    ),
    mig=(
        MigPool(
            "mig-dev",
            "train-use1",
            "mig-notebooks",
            "p4de.24xlarge",
            "1g.10gb",
            7,
            (("ml-research", "research"), ("fraud-models", "risk")),
            0.6,
        ),
    ),
)
