"""Recommendations: schema-valid, deterministic, golden; the diff against current NodePools."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from costlab import schemas
from costlab.recommend.diff import ManifestError, diff_nodepools
from costlab.recommend.runner import recommend, recommend_from_cli
from costlab.simulate.inputs import load_inputs
from tests.simulate.fleet_fixtures import add_memory, add_node, add_pod, add_price

GOLDEN = Path(__file__).resolve().parent.parent / "golden" / "recommend"


def fleet(conn):
    """24 h: llm-7b serves 3 replicas 08-18 and 1 otherwise on g5.xlarge; a trainer on a p4d."""
    add_price(conn, "g5.xlarge", 1_006_000)
    add_price(conn, "g5.xlarge", 400_000, ctype="spot", zone="us-east-1a", source="spot-history")
    add_price(conn, "p4d.24xlarge", 21_957_642)
    add_node(conn, "g-0", 0, 24)
    add_pod(conn, "llm-7b-5d9c8b7f6-aaaaa", "g-0", 0, 24, labels={"app": "llm-7b"})
    for i in (1, 2):
        add_node(conn, f"g-{i}", 8, 20)
        add_pod(conn, f"llm-7b-5d9c8b7f6-bbbb{i}", f"g-{i}", 8, 18, labels={"app": "llm-7b"})
    add_memory(conn, "llm-7b-5d9c8b7f6-aaaaa", "g-0", "serving", [12288] * 20)
    add_node(
        conn, "p-0", 0, 24, itype="p4d.24xlarge", gpus=8, gpu_model="A100", mem=40960, pool="train"
    )
    add_pod(conn, "trainer-x7k2p", "p-0", 0, 20, ns="research", gpus=8, kind="training")


@pytest.fixture
def files(fresh_db):
    fleet(fresh_db)
    _, out = recommend(load_inputs(fresh_db))
    return out


def test_every_object_validates_against_its_crd(files):
    kinds = []
    for name, text in files.items():
        if name.endswith(".yaml"):
            doc = yaml.safe_load(text)
            schemas.validate(doc)
            kinds.append(doc["kind"])
    assert sorted(kinds) == ["EC2NodeClass", "NodePool", "NodePool", "ScaledObject"]


def test_a_manifest_with_an_unknown_field_is_rejected(files):
    doc = yaml.safe_load(files["nodepool-costlab-gpu-inference.yaml"])
    doc["spec"]["disruption"]["consolidateAftr"] = "5m"
    with pytest.raises(
        schemas.SchemaError,
        match=r"NodePool costlab-gpu-inference invalid at spec/disruption: .*consolidateAftr",
    ):
        schemas.validate(doc)


def test_nodepool_contents(files):
    inf = yaml.safe_load(files["nodepool-costlab-gpu-inference.yaml"])
    spec = inf["spec"]
    assert spec["template"]["spec"]["nodeClassRef"] == {
        "group": "karpenter.k8s.aws",
        "kind": "EC2NodeClass",
        "name": "costlab-gpu",
    }
    reqs = {r["key"]: r["values"] for r in spec["template"]["spec"]["requirements"]}
    assert reqs["karpenter.sh/capacity-type"] == ["spot", "on-demand"]
    assert reqs["node.kubernetes.io/instance-type"] == ["g5.xlarge"]
    assert spec["limits"] == {"nvidia.com/gpu": 4}  # peak 3 GPUs x 1.25 -> 4
    assert spec["disruption"]["consolidationPolicy"] == "WhenEmptyOrUnderutilized"
    assert spec["template"]["spec"]["taints"] == [
        {"effect": "NoSchedule", "key": "nvidia.com/gpu", "value": "true"}
    ]
    so = yaml.safe_load(files["scaledobject-serving-llm-7b.yaml"])
    assert (so["spec"]["minReplicaCount"], so["spec"]["maxReplicaCount"]) == (1, 3)
    train = yaml.safe_load(files["nodepool-costlab-gpu-training.yaml"])
    assert train["spec"]["disruption"]["consolidationPolicy"] == "WhenEmpty"


def test_golden_files(files, update_golden):
    for name, text in files.items():
        path = GOLDEN / name
        if update_golden:
            path.write_text(text)
        assert path.exists(), f"missing golden {path}; run pytest --update-golden and review"
        assert text == path.read_text(), f"{name} differs from its golden file"
    assert sorted(p.name for p in GOLDEN.iterdir()) == sorted(files)


def test_emit_is_deterministic(fresh_db):
    fleet(fresh_db)
    inputs = load_inputs(fresh_db)
    assert recommend(inputs)[1] == recommend(inputs)[1]


def test_diff_against_current(files):
    rec = [yaml.safe_load(files["nodepool-costlab-gpu-inference.yaml"])]
    current = yaml.safe_dump(rec[0]).replace("WhenEmptyOrUnderutilized", "WhenEmpty")
    text = diff_nodepools(current, rec)
    assert "## NodePool costlab-gpu-inference: changed" in text
    assert "-  consolidationPolicy: WhenEmpty\n" in text
    assert "+  consolidationPolicy: WhenEmptyOrUnderutilized\n" in text


@pytest.mark.parametrize(
    "bad, good, field",
    [
        ("WhenEmptyOrUnderutilized", "Sometimes", "spec.disruption.consolidationPolicy"),
        ("nodes: 10%", "nodes: 150%", "spec.disruption.budgets[0].nodes"),
        ("consolidateAfter: 15m", "consolidateAfter: soon", "spec.disruption.consolidateAfter"),
    ],
)
def test_bad_current_manifest_names_the_field(files, bad, good, field):
    doc = yaml.safe_load(files["nodepool-costlab-gpu-inference.yaml"])
    text = files["nodepool-costlab-gpu-inference.yaml"]
    assert bad in text
    broken = text.replace(bad, good, 1)
    with pytest.raises(ManifestError, match=field.replace("[", r"\[").replace("]", r"\]")):
        diff_nodepools(broken, [doc])


def test_recommend_from_cli_writes_files(tmp_path):
    from rich.console import Console

    from costlab import store

    db = tmp_path / "r.duckdb"
    conn = store.connect(db)
    fleet(conn)
    conn.close()
    msg = recommend_from_cli(db, out=tmp_path / "out", console=Console())
    assert (tmp_path / "out" / "summary.md").read_text().startswith("# costlab recommendations")
    assert "nodepool-costlab-gpu-inference.yaml" in msg


def test_cli_recommend_with_current_writes_the_diff(tmp_path, capsys):
    from costlab import store
    from costlab.cli import main

    db = tmp_path / "r.duckdb"
    conn = store.connect(db)
    fleet(conn)
    conn.close()
    first, second = tmp_path / "first", tmp_path / "second"
    main(["--db", str(db), "recommend", "--out", str(first)])
    current = tmp_path / "current.yaml"
    text = (first / "nodepool-costlab-gpu-inference.yaml").read_text()
    current.write_text(text.replace("WhenEmptyOrUnderutilized", "WhenEmpty"))
    main(["--db", str(db), "recommend", "--out", str(second), "--current", str(current)])
    assert "nodepools.diff" in capsys.readouterr().out
    diff = (second / "nodepools.diff").read_text()
    assert "## NodePool costlab-gpu-inference: changed" in diff
    assert "+  consolidationPolicy: WhenEmptyOrUnderutilized\n" in diff
    assert "## NodePool costlab-gpu-training: new" in diff
    # the manifests themselves do not depend on --current
    assert sorted(p.name for p in second.iterdir()) == sorted(
        [p.name for p in first.iterdir()] + ["nodepools.diff"]
    )


def test_cli_recommend_rejects_a_bad_current_manifest(tmp_path, capsys):
    from costlab import store
    from costlab.cli import main

    db = tmp_path / "r.duckdb"
    conn = store.connect(db)
    fleet(conn)
    conn.close()
    current = tmp_path / "current.yaml"
    current.write_text("apiVersion: karpenter.sh/v1\nkind: NodePool\nmetadata: {name: x}\n")
    with pytest.raises(SystemExit) as exc:
        main(["--db", f"{db}", "recommend", "--out", f"{tmp_path}/o", "--current", f"{current}"])
    assert exc.value.code == 2
    assert "current doc 1: spec: is required" in capsys.readouterr().err
