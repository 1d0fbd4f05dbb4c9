"""No file in the repository spells a label value no exporter emits (tests/conformance/README.md).

Karpenter keeps dots and slashes in `resource_type` (`nvidia.com/gpu`), kube-state-metrics
replaces them in `resource` (`nvidia_com_gpu`) and snake-cases `label_*` names; swapping the two
finds nothing on a real cluster while the demo and tests, sharing the guess, still pass.
"""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SCANNED = ("costlab", "tests", "sql", "docs", "dashboards")
SUFFIXES = {".py", ".sql", ".md", ".yaml", ".yml", ".json", ".prom", ".om", ".toml", ".txt"}
# either quote (PromQL in Python strings, YAML, Markdown), not opening a placeholder ({self.gpu})
Q = "[\"'](?!\\{)"

WRONG = {
    # Karpenter's resource_type written the kube-state-metrics way (`_com_` never survives
    # Karpenter's lower-case + `-`->`_` rule: the dots stay)
    "Karpenter resource_type with kube-state-metrics spelling": re.compile(
        rf"resource_type(?:\s*(?:=~|!~|!=|=)\s*|{Q}\s*:\s*){Q}[^\"'\n]*_com_"
    ),
    # kube-state-metrics' `resource` label holds no `.` or `/`. Only a selector or a series' label
    # set counts (`{...resource="..."`, or a Python/JSON mapping), not costlab's own
    # `gpu_resource` values (`nvidia.com/mig-1g.10gb`); in a regex matcher `.` is syntax, so
    # there only a slash or an escaped dot.
    "kube-state-metrics resource with dots or slashes": re.compile(
        rf"\{{[^{{}}]*\bresource ?(?:!=|=) ?{Q}[^\"'\n]*[./]"
        rf"|\{{[^{{}}]*\bresource ?(?:=~|!~) ?{Q}[^\"'\n]*(?:/|\\\.)"
        rf"|{Q}resource{Q}\s*:\s*{Q}[^\"'\n]*[./]"
    ),
    # kube-state-metrics label names are snake_case: capacityType -> capacity_type
    "kube-state-metrics label_ name with upper case": re.compile(r"\blabel_[a-z0-9_]*[A-Z]\w*"),
}


# A line that spells a wrong value deliberately (code that detects it, a test that it is refused)
# says so with this comment; nothing else is exempt.
ALLOWED = "misspelled on purpose"


def offending_lines() -> list[str]:
    me = Path(__file__).resolve()
    out = []
    for top in SCANNED:
        for path in sorted((REPO / top).rglob("*")):
            if path.suffix not in SUFFIXES or not path.is_file() or path.resolve() == me:
                continue
            rel = path.relative_to(REPO)
            if any(part.startswith(".") or part == "__pycache__" for part in rel.parts):
                continue
            for n, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
                if ALLOWED in line:  # a check for the misspelling, or a test that it is refused
                    continue
                for why, pattern in WRONG.items():
                    if pattern.search(line):
                        out.append(f"{rel}:{n}: {why}: {line.strip()[:160]}")
    return out


def test_patterns_catch_the_wrong_and_pass_the_right():
    wrong = [
        'karpenter_nodes_allocatable{resource_type="nvidia_com_gpu"}',
        "{'resource_type': 'aws_amazon_com_neuron'}",
        'kube_pod_container_resource_requests{resource="nvidia.com/gpu"}',
        '{"node": "n", "resource": "amd.com/gpu"}',
        'kube_node_status_allocatable{node="n", resource=~"nvidia\\\\.com/gpu"}',
        "label_eks_amazonaws_com_capacityType",
    ]
    right = [
        'karpenter_nodes_allocatable{resource_type="nvidia.com/gpu"}',
        'kube_pod_container_resource_requests{node="",resource="nvidia_com_gpu",unit="integer"}',
        '{"resource": "nvidia_com_mig_1g_10gb"}',
        'kube_pod_container_resource_requests{resource=~"nvidia_com_(gpu|mig_.+)"}',
        "pod(db, 'a', resource=\"nvidia.com/mig-1g.10gb\")",  # costlab's gpu_resource value
        "gpu_resource = 'nvidia.com/gpu'",
        "label_eks_amazonaws_com_capacity_type",
    ]
    assert all(any(p.search(s) for p in WRONG.values()) for s in wrong)
    assert not any(p.search(s) for p in WRONG.values() for s in right)


def test_no_file_spells_a_label_value_no_exporter_emits():
    found = offending_lines()
    assert not found, "\n".join(found)
