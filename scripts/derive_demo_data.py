"""Derive the reference data costlab ships (costlab/data/, costlab/schemas/) from ../shared/.

A maintainer tool: nothing else in costlab or its tests reads ../shared (a user's clone has none).

Only redistributable sources are used (see costlab/data/NOTICE.md):
- Karpenter's generated price table and instance-type reference (Apache-2.0)
- Azure LLM inference trace 2023 (CC-BY-4.0)
- Mooncake conversation trace (Apache-2.0)
Alibaba traces (research/study use only) and the SkyPilot catalog (no licence) are NOT shipped;
the demo and tests keep figures derived from them as cited constants instead.

- the CRD schemas of the objects costlab writes (Apache-2.0, costlab/schemas/NOTICE.md)

Run from the repo root: `uv run python scripts/derive_demo_data.py [--shared ../shared]`.
"""

from __future__ import annotations

import argparse
import gzip
import json
from pathlib import Path

import polars as pl
import yaml

OUT = Path(__file__).resolve().parent.parent / "costlab" / "data"
SCHEMAS = OUT.parent / "schemas"
# pinned file -> (CRD under shared/schemas, served version)
CRDS = {
    "prometheusrule-v1.json": (
        "prometheus-operator/monitoring.coreos.com_prometheusrules.yaml",
        "v1",
    ),
    "nodepool-v1.json": ("karpenter-aws/karpenter.sh_nodepools.yaml", "v1"),
    "ec2nodeclass-v1.json": ("karpenter-aws/karpenter.k8s.aws_ec2nodeclasses.yaml", "v1"),
    "scaledobject-v1alpha1.json": ("keda/keda.sh_scaledobjects.yaml", "v1alpha1"),
}


def derive_schemas(shared: Path) -> None:
    for name, (crd_path, version) in CRDS.items():
        crd = yaml.safe_load((shared / "schemas" / crd_path).read_text())
        (served,) = [v for v in crd["spec"]["versions"] if v["name"] == version]
        schema = served["schema"]["openAPIV3Schema"]
        (SCHEMAS / name).write_text(json.dumps(schema, indent=1, sort_keys=True) + "\n")
    print(f"wrote {SCHEMAS}: {len(CRDS)} CRD schemas")


def derive(shared: Path) -> None:
    data = shared / "data"
    prices = pl.read_csv(
        data / "aws_ec2_karpenter" / "ondemand_prices_us_east_1.csv", infer_schema_length=0
    )
    prices.write_csv(OUT / "ec2_ondemand_prices_us_east_1.csv")

    types = pl.read_csv(
        data / "aws_ec2_karpenter" / "instance_types_karpenter_labels.csv", infer_schema_length=0
    )
    gpu = (
        types.filter(pl.col("karpenter.k8s.aws/instance-gpu-count").is_not_null())
        .select(
            pl.col("instance_type"),
            pl.col("karpenter.k8s.aws/instance-family").alias("family"),
            pl.col("karpenter.k8s.aws/instance-gpu-count").cast(pl.Int32).alias("gpu_count"),
            pl.col("karpenter.k8s.aws/instance-gpu-name").str.to_uppercase().alias("gpu_model"),
            pl.col("karpenter.k8s.aws/instance-gpu-memory").cast(pl.Int64).alias("gpu_memory_mib"),
            pl.col("karpenter.k8s.aws/instance-gpu-manufacturer").alias("gpu_manufacturer"),
            pl.col("karpenter.k8s.aws/instance-cpu").cast(pl.Int32).alias("vcpu"),
            pl.col("karpenter.k8s.aws/instance-memory").cast(pl.Int64).alias("memory_mib"),
        )
        .sort("instance_type")
    )
    gpu.write_csv(OUT / "gpu_instance_types.csv")

    # Per-request token counts, one row per real request, with the trace it came from.
    azure = []
    for kind in ("code", "conv"):
        frame = pl.read_csv(data / "azure_llm_2023" / f"AzureLLMInferenceTrace_{kind}.csv.gz")
        ts = frame["TIMESTAMP"].str.to_datetime(time_unit="us", strict=False)
        azure.append(
            frame.select(
                pl.lit(f"azure-{kind}").alias("trace"),
                ((ts - ts.min()).dt.total_milliseconds()).alias("offset_ms"),
                pl.col("ContextTokens").alias("input_tokens"),
                pl.col("GeneratedTokens").alias("output_tokens"),
            )
        )
    with gzip.open(data / "mooncake" / "conversation_trace.jsonl.gz", "rt") as fh:
        rows = [json.loads(line) for line in fh]
    mooncake = pl.DataFrame(
        {
            "trace": ["mooncake"] * len(rows),
            "offset_ms": [r["timestamp"] for r in rows],
            "input_tokens": [r["input_length"] for r in rows],
            "output_tokens": [r["output_length"] for r in rows],
        }
    )
    tokens = pl.concat(
        [*azure, mooncake.cast({"offset_ms": pl.Int64})], how="vertical_relaxed"
    ).sort(["trace", "offset_ms"])
    # mtime=0 keeps the gzip byte-identical across runs, so re-deriving makes no diff.
    with (
        open(OUT / "llm_request_tokens.csv.gz", "wb") as raw,
        gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as fh,
    ):
        tokens.write_csv(fh)
    print(
        f"wrote {OUT}: {prices.height} prices, {gpu.height} GPU instance types, {tokens.height} requests"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--shared", type=Path, default=Path(__file__).resolve().parents[2] / "shared"
    )
    shared = parser.parse_args().shared
    derive(shared)
    derive_schemas(shared)
