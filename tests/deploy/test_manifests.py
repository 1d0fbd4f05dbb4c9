"""deploy/ manifests, validated offline: hand-written JSON schemas for the Kubernetes fields we use
(with additionalProperties false where a typo would silently be ignored by kubectl apply) plus
policy checks: resources, securityContext, pinned images, Secret/ConfigMap/PVC refs that exist,
labels that match selectors, kustomization files that exist, and a small kustomize-like build of
the overlay. (No network, so no cluster dry-run; `kubernetes-validate` is not a dependency.)"""

from __future__ import annotations

import copy
import re
from pathlib import Path

import jsonschema
import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
BASE = DEPLOY / "base"
OVERLAY = DEPLOY / "overlays" / "production"

NAME = {"type": "string", "pattern": r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", "maxLength": 63}
LABELS = {"type": "object", "additionalProperties": {"type": "string", "maxLength": 63}}
META = {
    "type": "object",
    "required": ["name"],
    "additionalProperties": False,
    "properties": {"name": NAME, "namespace": NAME, "labels": LABELS, "annotations": LABELS},
}
QUANTITY = {"type": "string", "pattern": r"^[0-9.]+(m|Ki|Mi|Gi|Ti)?$"}
RESOURCES = {
    "type": "object",
    "required": ["requests", "limits"],
    "additionalProperties": False,
    "properties": {
        k: {
            "type": "object",
            "required": ["cpu", "memory"],
            "additionalProperties": False,
            "properties": {"cpu": QUANTITY, "memory": QUANTITY},
        }
        for k in ("requests", "limits")
    },
}
KEYREF = {
    "type": "object",
    "required": ["name", "key"],
    "additionalProperties": False,
    "properties": {"name": NAME, "key": {"type": "string"}, "optional": {"type": "boolean"}},
}
ENV = {
    "type": "array",
    "items": {
        "type": "object",
        "required": ["name"],
        "additionalProperties": False,
        "properties": {
            "name": {"type": "string", "pattern": r"^[A-Z_][A-Z0-9_]*$"},
            "value": {"type": "string"},
            "valueFrom": {
                "type": "object",
                "additionalProperties": False,
                "properties": {"secretKeyRef": KEYREF, "configMapKeyRef": KEYREF},
            },
        },
    },
}
PROBE = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "httpGet": {
            "type": "object",
            "required": ["path", "port"],
            "additionalProperties": False,
            "properties": {"path": {"type": "string"}, "port": {"type": ["string", "integer"]}},
        },
        "tcpSocket": {
            "type": "object",
            "required": ["port"],
            "properties": {"port": {"type": ["string", "integer"]}},
        },
        "initialDelaySeconds": {"type": "integer"},
        "periodSeconds": {"type": "integer"},
    },
}
CONTAINER = {
    "type": "object",
    "required": ["name", "image", "resources", "securityContext"],
    "additionalProperties": False,
    "properties": {
        "name": NAME,
        "image": {"type": "string"},
        "command": {"type": "array", "items": {"type": "string"}},
        "args": {"type": "array", "items": {"type": "string"}},
        "env": ENV,
        "envFrom": {
            "type": "array",
            "items": {
                "type": "object",
                "additionalProperties": False,
                "properties": {
                    "configMapRef": {
                        "type": "object",
                        "required": ["name"],
                        "properties": {"name": NAME},
                    },
                    "secretRef": {
                        "type": "object",
                        "required": ["name"],
                        "properties": {"name": NAME},
                    },
                },
            },
        },
        "ports": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["containerPort"],
                "additionalProperties": False,
                "properties": {
                    "name": {"type": "string", "maxLength": 15},
                    "containerPort": {"type": "integer"},
                },
            },
        },
        "readinessProbe": PROBE,
        "livenessProbe": PROBE,
        "resources": RESOURCES,
        "securityContext": {
            "type": "object",
            "additionalProperties": False,
            "required": ["allowPrivilegeEscalation", "readOnlyRootFilesystem", "capabilities"],
            "properties": {
                "allowPrivilegeEscalation": {"const": False},
                "readOnlyRootFilesystem": {"const": True},
                "capabilities": {
                    "type": "object",
                    "properties": {"drop": {"const": ["ALL"]}},
                    "required": ["drop"],
                },
            },
        },
        "volumeMounts": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["name", "mountPath"],
                "additionalProperties": False,
                "properties": {
                    "name": NAME,
                    "mountPath": {"type": "string"},
                    "readOnly": {"type": "boolean"},
                },
            },
        },
    },
}
POD_SPEC = {
    "type": "object",
    "required": ["containers", "securityContext", "serviceAccountName"],
    "additionalProperties": False,
    "properties": {
        "serviceAccountName": NAME,
        "automountServiceAccountToken": {"const": False},
        "restartPolicy": {"enum": ["Always", "OnFailure", "Never"]},
        "securityContext": {
            "type": "object",
            "required": ["runAsNonRoot", "runAsUser", "seccompProfile"],
            "properties": {
                "runAsNonRoot": {"const": True},
                "runAsUser": {"type": "integer", "minimum": 1},
                "runAsGroup": {"type": "integer"},
                "fsGroup": {"type": "integer"},
                "seccompProfile": {
                    "type": "object",
                    "properties": {"type": {"const": "RuntimeDefault"}},
                },
            },
            "additionalProperties": False,
        },
        "affinity": {"type": "object"},
        "containers": {"type": "array", "minItems": 1, "items": CONTAINER},
        "volumes": {
            "type": "array",
            "items": {"type": "object", "required": ["name"], "properties": {"name": NAME}},
        },
    },
}
TEMPLATE = {
    "type": "object",
    "required": ["metadata", "spec"],
    "properties": {
        "metadata": {
            "type": "object",
            "properties": {"labels": LABELS},
            "additionalProperties": False,
        },
        "spec": POD_SPEC,
    },
}
SELECTOR = {"type": "object", "required": ["matchLabels"], "properties": {"matchLabels": LABELS}}


def doc(kind: str, spec: dict | None = None, **top: dict) -> dict:
    props = {"apiVersion": {"type": "string"}, "kind": {"const": kind}, "metadata": META, **top}
    required = ["apiVersion", "kind", "metadata"]
    if spec is not None:
        props["spec"] = spec
        required.append("spec")
    return {
        "type": "object",
        "required": required,
        "additionalProperties": False,
        "properties": props,
    }


SCHEMAS = {
    ("v1", "ServiceAccount"): doc("ServiceAccount", automountServiceAccountToken={"const": False}),
    ("v1", "Namespace"): doc("Namespace"),
    ("v1", "ConfigMap"): doc(
        "ConfigMap", data={"type": "object", "additionalProperties": {"type": "string"}}
    ),
    ("v1", "Secret"): doc(
        "Secret",
        type={"const": "Opaque"},
        stringData={"type": "object", "additionalProperties": {"type": "string"}},
    ),
    ("v1", "PersistentVolumeClaim"): doc(
        "PersistentVolumeClaim",
        {
            "type": "object",
            "required": ["accessModes", "resources"],
            "additionalProperties": False,
            "properties": {
                "accessModes": {
                    "type": "array",
                    "items": {
                        "enum": [
                            "ReadWriteOnce",
                            "ReadWriteMany",
                            "ReadOnlyMany",
                            "ReadWriteOncePod",
                        ]
                    },
                },
                "storageClassName": {"type": "string"},
                "resources": {
                    "type": "object",
                    "properties": {
                        "requests": {
                            "type": "object",
                            "required": ["storage"],
                            "properties": {"storage": QUANTITY},
                        }
                    },
                },
            },
        },
    ),
    ("v1", "Service"): doc(
        "Service",
        {
            "type": "object",
            "required": ["selector", "ports"],
            "additionalProperties": False,
            "properties": {
                "type": {"enum": ["ClusterIP", "NodePort", "LoadBalancer"]},
                "selector": LABELS,
                "ports": {
                    "type": "array",
                    "minItems": 1,
                    "items": {
                        "type": "object",
                        "required": ["port"],
                        "additionalProperties": False,
                        "properties": {
                            "name": {"type": "string"},
                            "port": {"type": "integer"},
                            "targetPort": {"type": ["string", "integer"]},
                        },
                    },
                },
            },
        },
    ),
    ("apps/v1", "Deployment"): doc(
        "Deployment",
        {
            "type": "object",
            "required": ["selector", "template"],
            "additionalProperties": False,
            "properties": {
                "replicas": {"type": "integer", "minimum": 0},
                "selector": SELECTOR,
                "template": TEMPLATE,
            },
        },
    ),
    ("batch/v1", "CronJob"): doc(
        "CronJob",
        {
            "type": "object",
            "required": ["schedule", "jobTemplate"],
            "additionalProperties": False,
            "properties": {
                "schedule": {"type": "string", "pattern": r"^(\S+\s+){4}\S+$"},
                "timeZone": {"type": "string"},
                "concurrencyPolicy": {"const": "Forbid"},
                "startingDeadlineSeconds": {"type": "integer"},
                "successfulJobsHistoryLimit": {"type": "integer"},
                "failedJobsHistoryLimit": {"type": "integer"},
                "jobTemplate": {
                    "type": "object",
                    "required": ["spec"],
                    "properties": {
                        "spec": {
                            "type": "object",
                            "required": ["template"],
                            "additionalProperties": False,
                            "properties": {
                                "backoffLimit": {"type": "integer"},
                                "activeDeadlineSeconds": {"type": "integer"},
                                "template": TEMPLATE,
                            },
                        }
                    },
                },
            },
        },
    ),
    ("rbac.authorization.k8s.io/v1", "Role"): doc(
        "Role",
        rules={
            "type": "array",
            "items": {
                "type": "object",
                "required": ["apiGroups", "resources", "verbs"],
                "additionalProperties": False,
                "properties": {
                    "apiGroups": {"type": "array"},
                    "resources": {"type": "array"},
                    "resourceNames": {"type": "array", "minItems": 1},
                    "verbs": {"type": "array", "items": {"enum": ["get", "list", "watch"]}},
                },
            },
        },
    ),
    ("rbac.authorization.k8s.io/v1", "RoleBinding"): doc(
        "RoleBinding",
        roleRef={"type": "object", "required": ["apiGroup", "kind", "name"]},
        subjects={"type": "array", "minItems": 1},
    ),
}


def load_dir(folder: Path) -> tuple[dict, list[dict]]:
    kust = yaml.safe_load((folder / "kustomization.yaml").read_text())
    docs: list[dict] = []
    for res in kust.get("resources", []):
        path = (folder / res).resolve()
        if path.is_dir():
            _, sub = build(path)
            docs.extend(sub)
        else:
            docs.extend(d for d in yaml.safe_load_all(path.read_text()) if d)
    return kust, docs


def merge(base: object, patch: object) -> object:
    """Strategic-merge-like: dicts merge, lists of named dicts merge by name, the rest replaces."""
    if isinstance(base, dict) and isinstance(patch, dict):
        out = dict(base)
        for k, v in patch.items():
            out[k] = merge(base[k], v) if k in base else v
        return out
    if (
        isinstance(base, list)
        and isinstance(patch, list)
        and all(isinstance(x, dict) and "name" in x for x in base + patch)
    ):
        out = [copy.deepcopy(x) for x in base]
        for item in patch:
            idx = next((i for i, x in enumerate(out) if x["name"] == item["name"]), None)
            out.append(item) if idx is None else out.__setitem__(idx, merge(out[idx], item))
        return out
    return copy.deepcopy(patch)


def build(folder: Path) -> tuple[dict, list[dict]]:
    """A small `kustomize build`: resources, patches (by kind + name), images, namespace, labels."""
    kust, docs = load_dir(folder)
    docs = copy.deepcopy(docs)
    for patch in kust.get("patches", []):
        body = yaml.safe_load((folder / patch["path"]).read_text())
        targets = [
            i
            for i, d in enumerate(docs)
            if (d["kind"], d["metadata"]["name"]) == (body["kind"], body["metadata"]["name"])
        ]
        assert len(targets) == 1, f"patch {patch['path']} must match exactly one resource"
        docs[targets[0]] = merge(docs[targets[0]], body)
    for image in kust.get("images", []):
        for d in docs:
            for c in containers(d):
                if c["image"].split(":")[0] == image["name"]:
                    c["image"] = f"{image['name']}:{image['newTag']}"
    for entry in kust.get("labels", []):
        for d in docs:
            d["metadata"].setdefault("labels", {}).update(entry["pairs"])
    if "namespace" in kust:
        for d in docs:
            if d["kind"] != "Namespace":
                d["metadata"]["namespace"] = kust["namespace"]
    return kust, docs


def pod_spec(d: dict) -> dict | None:
    if d["kind"] == "Deployment":
        return d["spec"]["template"]["spec"]
    if d["kind"] == "CronJob":
        return d["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    return None


def pod_labels(d: dict) -> dict:
    if d["kind"] == "Deployment":
        return d["spec"]["template"]["metadata"]["labels"]
    return d["spec"]["jobTemplate"]["spec"]["template"]["metadata"]["labels"]


def containers(d: dict) -> list[dict]:
    spec = pod_spec(d)
    return [] if spec is None else spec["containers"]


@pytest.fixture(scope="module", params=["base", "overlay"])
def built(request) -> list[dict]:
    _, docs = build(BASE if request.param == "base" else OVERLAY)
    return docs


def test_kustomization_files_exist():
    for folder in (BASE, OVERLAY):
        kust = yaml.safe_load((folder / "kustomization.yaml").read_text())
        for res in kust.get("resources", []):
            assert (folder / res).exists(), f"{folder}/{res} missing"
        for patch in kust.get("patches", []):
            assert (folder / patch["path"]).is_file()
    listed = set(yaml.safe_load((BASE / "kustomization.yaml").read_text())["resources"])
    assert listed == {p.name for p in BASE.glob("*.yaml")} - {"kustomization.yaml"}, (
        "every base file is listed"
    )


def test_every_document_matches_its_schema(built):
    kinds = set()
    for d in built:
        key = (d["apiVersion"], d["kind"])
        assert key in SCHEMAS, f"no schema for {key}"
        jsonschema.validate(d, SCHEMAS[key])
        kinds.add(d["kind"])
    assert {
        "CronJob",
        "Deployment",
        "Service",
        "PersistentVolumeClaim",
        "ServiceAccount",
        "Role",
        "RoleBinding",
        "ConfigMap",
        "Secret",
    } <= kinds


def test_schemas_reject_mistakes():
    _, docs = build(BASE)
    dep = next(d for d in docs if d["kind"] == "Deployment")
    bad = copy.deepcopy(dep)
    del bad["spec"]["template"]["spec"]["containers"][0]["resources"]
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(bad, SCHEMAS[("apps/v1", "Deployment")])
    bad = copy.deepcopy(dep)
    bad["spec"]["template"]["spec"]["containers"][0]["imagePullPolcy"] = "Always"  # typo
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(bad, SCHEMAS[("apps/v1", "Deployment")])


def test_images_are_pinned(built):
    for d in built:
        for c in containers(d):
            name, _, tag = c["image"].rpartition(":")
            assert name and re.fullmatch(r"\d+\.\d+\.\d+", tag), (
                f"{c['image']} must be pinned to a release tag"
            )


def test_workloads_cover_the_pipeline_dashboard_and_exporter(built):
    by_name = {d["metadata"]["name"]: d for d in built if pod_spec(d) is not None}
    script = " ".join(containers(by_name["costlab-pipeline"])[0]["args"])
    for step in (
        "costlab collect prometheus",
        "costlab collect langfuse",
        "costlab allocate",
        "costlab report",
    ):
        assert step in script
    # both listen on loopback unless told: in the pod they must serve the Service, so they say so
    exporter = containers(by_name["costlab-exporter"])[0]["args"][0]
    dashboard = containers(by_name["costlab-dashboard"])[0]["args"][0]
    assert "exporter --port 9108 --address 0.0.0.0" in exporter
    assert "dashboard --port 8501 --address 0.0.0.0" in dashboard
    assert (
        by_name["costlab-exporter"]["kind"] == by_name["costlab-dashboard"]["kind"] == "Deployment"
    )


def test_single_writer(built):
    """Only the CronJob mounts the data volume writable; the Deployments open the published copy read-only."""
    for d in built:
        spec = pod_spec(d)
        if spec is None:
            continue
        data_mounts = [
            m for c in spec["containers"] for m in c.get("volumeMounts", []) if m["name"] == "data"
        ]
        claim = next(v for v in spec["volumes"] if v["name"] == "data")["persistentVolumeClaim"]
        if d["kind"] == "CronJob":
            assert not any(m.get("readOnly") for m in data_mounts)
        else:
            assert all(m.get("readOnly") for m in data_mounts) and claim.get("readOnly") is True
            assert "COSTLAB_PUBLISHED_DB" in spec["containers"][0]["args"][0]


def test_references_exist(built):
    names = {(d["kind"], d["metadata"]["name"]): d for d in built}
    secrets = {
        n: set(d.get("stringData", {})) | set(d.get("data", {}))
        for (k, n), d in names.items()
        if k == "Secret"
    }
    configmaps = {n for (k, n) in names if k == "ConfigMap"}
    for d in built:
        spec = pod_spec(d)
        if spec is None:
            continue
        assert ("ServiceAccount", spec["serviceAccountName"]) in names
        volumes = {v["name"] for v in spec["volumes"]}
        for v in spec["volumes"]:
            if "persistentVolumeClaim" in v:
                assert ("PersistentVolumeClaim", v["persistentVolumeClaim"]["claimName"]) in names
        for c in spec["containers"]:
            for m in c.get("volumeMounts", []):
                assert m["name"] in volumes
            for e in c.get("envFrom", []):
                if "configMapRef" in e:
                    assert e["configMapRef"]["name"] in configmaps
            for e in c.get("env", []):
                ref = e.get("valueFrom", {}).get("secretKeyRef")
                if ref:
                    assert ref["key"] in secrets[ref["name"]], f"{ref} not in Secret {ref['name']}"
            secret_like = [
                e for e in c.get("env", []) if re.search(r"KEY|SECRET|TOKEN|PASSWORD", e["name"])
            ]
            assert all(
                "value" not in e and "secretKeyRef" in e["valueFrom"] for e in secret_like
            ), secret_like
    binding = next(d for d in built if d["kind"] == "RoleBinding")
    assert ("Role", binding["roleRef"]["name"]) in names
    assert all(("ServiceAccount", s["name"]) in names for s in binding["subjects"])
    assert not [d for d in built if d["kind"] in ("ClusterRole", "ClusterRoleBinding")]


def test_selectors_match_labels(built):
    deployments = [d for d in built if d["kind"] == "Deployment"]
    for d in deployments:
        sel = d["spec"]["selector"]["matchLabels"]
        assert sel.items() <= pod_labels(d).items()
    for svc in (d for d in built if d["kind"] == "Service"):
        matched = [
            d for d in deployments if svc["spec"]["selector"].items() <= pod_labels(d).items()
        ]
        assert len(matched) == 1, (
            f"Service {svc['metadata']['name']} must select exactly one Deployment"
        )
        port_names = {p.get("name") for c in containers(matched[0]) for p in c.get("ports", [])}
        assert all(p["targetPort"] in port_names for p in svc["spec"]["ports"])
    workloads = {d["metadata"]["name"]: pod_labels(d) for d in built if pod_spec(d) is not None}
    for d in built:
        spec = pod_spec(d)
        for term in (
            (spec or {})
            .get("affinity", {})
            .get("podAffinity", {})
            .get("requiredDuringSchedulingIgnoredDuringExecution", [])
        ):
            want = term["labelSelector"]["matchLabels"]
            assert any(want.items() <= labels.items() for labels in workloads.values()), want


def test_overlay_applies_namespace_and_patches():
    _, docs = build(OVERLAY)
    assert {d["metadata"].get("namespace") for d in docs if d["kind"] != "Namespace"} == {"costlab"}
    cm = next(d for d in docs if d["kind"] == "ConfigMap")
    assert cm["data"]["PROMETHEUS_URL"].startswith("http://thanos")
    assert cm["data"]["COSTLAB_DB"] == "/data/costlab.duckdb"  # untouched keys survive the patch
    cron = next(d for d in docs if d["kind"] == "CronJob")
    assert cron["spec"]["schedule"] == "7 * * * *" and cron["spec"]["concurrencyPolicy"] == "Forbid"


def test_dockerfile():
    text = (REPO / "Dockerfile").read_text()
    assert re.search(r"^FROM python:3\.11-slim", text, re.M)
    assert "uv sync --frozen" in text
    assert re.search(r"^USER 10001", text, re.M)
    for line in re.findall(r"^COPY (?:--\S+ )*(\S+(?: \S+)*) \S+$", text, re.M):
        for src in line.split():
            if not src.startswith("/"):
                assert (REPO / src).exists(), f"Dockerfile copies missing {src}"
