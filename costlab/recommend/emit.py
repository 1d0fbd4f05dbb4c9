"""Serialise recommendations: YAML with sorted keys and a markdown summary (no timestamps)."""

from __future__ import annotations

from typing import Any

import yaml

from costlab.money import micros_to_usd
from costlab.recommend.build import Recommendations


def to_yaml(obj: dict[str, Any]) -> str:
    return yaml.safe_dump(obj, sort_keys=True, default_flow_style=False, width=1000)


def files(rec: Recommendations, combined_per_month_micros: int | None = None) -> dict[str, str]:
    """File name -> content, in a stable order."""
    out: dict[str, str] = {}
    for np_ in rec.nodepools:
        out[f"nodepool-{np_['metadata']['name']}.yaml"] = to_yaml(np_)
    for nc in rec.nodeclasses:
        out[f"ec2nodeclass-{nc['metadata']['name']}.yaml"] = to_yaml(nc)
    for so in rec.scaledobjects:
        out[f"scaledobject-{so['metadata']['namespace']}-{so['metadata']['name']}.yaml"] = to_yaml(
            so
        )
    out["summary.md"] = summary(rec, combined_per_month_micros)
    return dict(sorted(out.items()))


def summary(rec: Recommendations, combined_per_month_micros: int | None = None) -> str:
    lines = [
        "# costlab recommendations",
        "",
        "Ranked by dollars saved per month (window replay scaled to 730 h), then by risk.",
        "",
        "| rank | strategy | saved $/month | saved % | risk | risk figures |",
        "|---:|---|---:|---:|---|---|",
    ]
    for i, r in enumerate(rec.ranking, 1):
        figs = ", ".join(f"{k}={v}" for k, v in r["risk_figures"].items())
        lines.append(
            f"| {i} | {r['strategy']} | {micros_to_usd(r['savings_per_month_usd_micros']):,.2f} | "
            f"{r['savings_pct']:.2f} | {r['risk']} | {figs} |"
        )
    if combined_per_month_micros is not None:
        lines += [
            "",
            f"All strategies chained (no double counting): "
            f"{micros_to_usd(combined_per_month_micros):,.2f} $/month.",
        ]
    lines += ["", "## Manifests", ""]
    lines += [f"- NodePool `{n['metadata']['name']}`" for n in rec.nodepools]
    lines += [f"- EC2NodeClass `{n['metadata']['name']}`" for n in rec.nodeclasses]
    lines += [
        f"- ScaledObject `{s['metadata']['namespace']}/{s['metadata']['name']}`"
        for s in rec.scaledobjects
    ]
    return "\n".join(lines) + "\n"
