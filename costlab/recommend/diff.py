"""Readable diff between current NodePools (YAML) and recommended ones.

Current manifests are checked structurally first; a bad one raises `ManifestError` naming the
document and field (e.g. `nodepools.yaml doc 1: spec.disruption.budgets[0].nodes: ...`).
"""

from __future__ import annotations

import difflib
import re
from typing import Any

import yaml

from costlab.errors import UsageError
from costlab.recommend.emit import to_yaml

_NODES = re.compile(r"^((100|[0-9]{1,2})%|[0-9]+)$")
_DURATION = re.compile(r"^(([0-9]+(s|m|h))+|Never)$")
_POLICIES = {"WhenEmpty", "WhenEmptyOrUnderutilized", "Balanced"}
_OPERATORS = {"In", "NotIn", "Exists", "DoesNotExist", "Gt", "Lt", "Gte", "Lte"}


class ManifestError(UsageError):
    """A current NodePool manifest that is not a valid Karpenter v1 NodePool."""


def _need(cond: bool, where: str, msg: str) -> None:
    if not cond:
        raise ManifestError(f"{where}: {msg}")


def check_nodepool(doc: Any, where: str) -> None:
    """Structural checks on the NodePool fields costlab reads and writes."""
    _need(isinstance(doc, dict), where, "not a mapping")
    _need(
        doc.get("apiVersion") == "karpenter.sh/v1",
        f"{where}: apiVersion",
        f"must be karpenter.sh/v1, got {doc.get('apiVersion')!r}",
    )
    _need(
        doc.get("kind") == "NodePool",
        f"{where}: kind",
        f"must be NodePool, got {doc.get('kind')!r}",
    )
    name = (doc.get("metadata") or {}).get("name")
    _need(isinstance(name, str) and name != "", f"{where}: metadata.name", "is required")
    spec = doc.get("spec")
    _need(isinstance(spec, dict), f"{where}: spec", "is required")
    tmpl: Any = (spec.get("template") or {}).get("spec")
    _need(isinstance(tmpl, dict), f"{where}: spec.template.spec", "is required")
    ref = tmpl.get("nodeClassRef")
    _need(isinstance(ref, dict), f"{where}: spec.template.spec.nodeClassRef", "is required")
    for key in ("group", "kind", "name"):
        _need(bool(ref.get(key)), f"{where}: spec.template.spec.nodeClassRef.{key}", "is required")
    reqs = tmpl.get("requirements")
    _need(isinstance(reqs, list), f"{where}: spec.template.spec.requirements", "must be a list")
    for i, r in enumerate(reqs):
        at = f"{where}: spec.template.spec.requirements[{i}]"
        _need(isinstance(r, dict) and "key" in r, at + ".key", "is required")
        _need(
            r.get("operator") in _OPERATORS,
            at + ".operator",
            f"must be one of {sorted(_OPERATORS)}, got {r.get('operator')!r}",
        )
    dis = spec.get("disruption") or {}
    _need(isinstance(dis, dict), f"{where}: spec.disruption", "must be a mapping")
    if "consolidationPolicy" in dis:
        _need(
            dis["consolidationPolicy"] in _POLICIES,
            f"{where}: spec.disruption.consolidationPolicy",
            f"must be one of {sorted(_POLICIES)}, got {dis['consolidationPolicy']!r}",
        )
    if "consolidateAfter" in dis:
        _need(
            bool(_DURATION.match(str(dis["consolidateAfter"]))),
            f"{where}: spec.disruption.consolidateAfter",
            f"{dis['consolidateAfter']!r} is not a duration like 30s, 15m, 1h or Never",
        )
    for i, b in enumerate(dis.get("budgets") or []):
        at = f"{where}: spec.disruption.budgets[{i}]"
        _need(isinstance(b, dict) and "nodes" in b, at + ".nodes", "is required")
        _need(
            bool(_NODES.match(str(b["nodes"]))),
            at + ".nodes",
            f"{b['nodes']!r} is not a count or a percentage 0-100%",
        )
        _need(
            ("schedule" in b) == ("duration" in b), at, "schedule and duration must be set together"
        )
    weight = spec.get("weight")
    if weight is not None:
        _need(
            isinstance(weight, int) and 1 <= weight <= 100,
            f"{where}: spec.weight",
            "must be an integer 1-100",
        )


def load_current(text: str, source: str = "current") -> list[dict[str, Any]]:
    """Parse and check every NodePool document in `text` (other kinds are skipped)."""
    try:
        docs = [d for d in yaml.safe_load_all(text) if d is not None]
    except yaml.YAMLError as exc:
        raise ManifestError(f"{source}: not valid YAML: {exc}") from None
    out = []
    for i, doc in enumerate(docs, 1):
        if isinstance(doc, dict) and doc.get("kind") not in (None, "NodePool"):
            continue
        check_nodepool(doc, f"{source} doc {i}")
        out.append(doc)
    return out


def diff_nodepools(
    current_text: str, recommended: list[dict[str, Any]], source: str = "current"
) -> str:
    """A unified diff per NodePool name (sorted-key YAML of spec); one-sided pools listed."""
    current = {d["metadata"]["name"]: d for d in load_current(current_text, source)}
    rec = {d["metadata"]["name"]: d for d in recommended}
    chunks: list[str] = []
    for name in sorted(set(current) | set(rec)):
        a = to_yaml(current[name]["spec"]).splitlines(keepends=True) if name in current else []
        b = to_yaml(rec[name]["spec"]).splitlines(keepends=True) if name in rec else []
        label = "unchanged" if a == b else ("new" if not a else ("removed" if not b else "changed"))
        chunks.append(f"## NodePool {name}: {label}\n")
        if a != b:
            chunks.extend(
                difflib.unified_diff(a, b, fromfile=f"current/{name}", tofile=f"recommended/{name}")
            )
    return "".join(chunks)
