"""The CRD schemas of the Kubernetes objects costlab writes, pinned in this folder (see NOTICE).

Each file is a CRD's `openAPIV3Schema` for one served version, copied unchanged. `validate`
checks a generated object against it as a structural schema would on the API server, except that
unknown fields are an error (the API server prunes them silently, which would hide a typo) and
CEL rules (`x-kubernetes-validations`) are not evaluated.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

from costlab.errors import CostlabError

# (apiVersion, kind) -> pinned schema file
FILES: dict[tuple[str, str], str] = {
    ("monitoring.coreos.com/v1", "PrometheusRule"): "prometheusrule-v1.json",
    ("karpenter.sh/v1", "NodePool"): "nodepool-v1.json",
    ("karpenter.k8s.aws/v1", "EC2NodeClass"): "ec2nodeclass-v1.json",
    ("keda.sh/v1alpha1", "ScaledObject"): "scaledobject-v1alpha1.json",
}


class SchemaError(CostlabError):
    """A generated Kubernetes object does not match its CRD schema."""


@cache
def openapi_schema(api_version: str, kind: str) -> dict[str, Any]:
    """The pinned openAPIV3Schema, unchanged."""
    try:
        name = FILES[(api_version, kind)]
    except KeyError:
        raise SchemaError(f"no pinned CRD schema for {api_version} {kind}") from None
    return json.loads(resources.files(__package__).joinpath(name).read_text())


@cache
def json_schema(api_version: str, kind: str) -> dict[str, Any]:
    """The openAPIV3Schema as a JSON Schema (Draft 7) with the Kubernetes extensions applied."""
    schema = _convert(openapi_schema(api_version, kind))
    # ObjectMeta is not part of a CRD's schema: the API server validates it on its own.
    schema["properties"]["metadata"] = {"type": "object"}
    return schema


def _convert(node: Any) -> Any:
    if isinstance(node, list):
        return [_convert(x) for x in node]
    if not isinstance(node, dict):
        return node
    out = {k: _convert(v) for k, v in node.items() if not k.startswith("x-kubernetes-")}
    if node.get("x-kubernetes-int-or-string"):
        out.pop("type", None)
        out["anyOf"] = [{"type": "integer"}, {"type": "string"}]
    if node.get("nullable"):
        out.pop("nullable", None)
        if "type" in out:
            out["type"] = [out["type"], "null"]
    if (
        out.get("type") == "object"
        and "properties" in out
        and "additionalProperties" not in out
        and not node.get("x-kubernetes-preserve-unknown-fields")
    ):
        out["additionalProperties"] = False
    return out


def validate(doc: dict[str, Any]) -> None:
    """Raise SchemaError (one line: kind, name, where, what) unless `doc` matches its CRD."""
    import jsonschema

    api_version, kind = doc.get("apiVersion", ""), doc.get("kind", "")
    validator = jsonschema.Draft7Validator(json_schema(api_version, kind))
    errors = sorted(validator.iter_errors(doc), key=lambda e: list(map(str, e.path)))
    if errors:
        first = errors[0]
        where = "/".join(str(p) for p in first.path) or "<root>"
        name = doc.get("metadata", {}).get("name", "?")
        raise SchemaError(f"{kind} {name} invalid at {where}: {first.message}")
