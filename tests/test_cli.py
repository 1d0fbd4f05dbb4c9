"""The CLI contract: every command has help, bad input is one line and exit 2, JSON adds up."""

from __future__ import annotations

import json
import subprocess
import sys
from decimal import Decimal

import pytest

COMMANDS = [
    ["demo"],
    ["collect", "prometheus"],
    ["collect", "langfuse"],
    ["collect", "prices"],
    ["prices", "import"],
    ["allocate"],
    ["export", "parquet"],
    ["tokens"],
    ["simulate"],
    ["recommend"],
    ["rules"],
    ["report"],
    ["dashboard"],
    ["exporter"],
    ["doctor"],
]


def costlab(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", "from costlab.cli import main; main()", *args],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_every_command_has_help(command):
    result = costlab(*command, "--help")
    assert result.returncode == 0, result.stderr
    assert "Usage" in result.stdout and len(result.stdout.splitlines()) > 3


def test_every_command_is_documented_in_readme(repo_dir):
    readme = (repo_dir / "README.md").read_text()
    for command in COMMANDS:
        assert f"costlab {' '.join(command)}" in readme, command


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["allocate", "--start", "yesterday-ish"], "not an ISO-8601 date"),
        (["allocate", "--format", "xml"], "'xml' is not one of"),
        (["allocate", "--idle", "sometimes"], "'sometimes' is not one of"),
        (["allocate", "--by", "colour"], "--by must be one of"),
        (["allocate", "--start", "2026-11-22", "--end", "2026-11-21"], "is not after start"),
        (["no-such-command"], "No such command"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(demo_db, args, fragment):
    result = costlab("--db", str(demo_db), *args)
    assert result.returncode == 2
    assert fragment in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert "Traceback" not in result.stderr


def test_bad_db_paths_exit_2(tmp_path):
    not_a_db = tmp_path / "notes.duckdb"
    not_a_db.write_text("this is not a database\n")
    for db in (str(tmp_path), str(tmp_path / "missing-dir" / "x.duckdb"), str(not_a_db)):
        result = costlab("--db", db, "allocate")
        assert result.returncode == 2, (db, result.stderr)
        assert result.stderr.startswith("error:") and "Traceback" not in result.stderr


def test_empty_database_says_what_to_do(tmp_path):
    result = costlab("--db", str(tmp_path / "empty.duckdb"), "allocate")
    assert result.returncode == 2
    assert "costlab demo" in result.stderr


def test_allocate_json_contract_adds_up_to_the_cent(demo_db):
    for by, idle in (
        ("team", "separate"),
        ("namespace", "share"),
        ("label:workload-kind", "separate"),
    ):
        result = costlab(
            "--db", str(demo_db), "allocate", "--by", by, "--idle", idle, "--format", "json"
        )
        assert result.returncode == 0, result.stderr
        doc = json.loads(result.stdout, parse_float=Decimal)
        assert set(doc) >= {"start", "end", "total_node_cost_usd", "rows"}
        total = sum(Decimal(r["cost_usd"]) for r in doc["rows"])
        assert abs(total - doc["total_node_cost_usd"]) < Decimal("0.005")
        tenants = [r["tenant"] for r in doc["rows"]]
        assert len(tenants) == len(set(tenants))
        assert ("__idle__" in tenants) == (idle == "separate")


def test_allocate_csv_has_header_and_rows(demo_db):
    result = costlab("--db", str(demo_db), "allocate", "--by", "cluster", "--format", "csv")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert lines[0] == (
        "tenant,gpu_hours,gpu_hours_requested,a100_equiv_gpu_hours,gpu_hours_used,efficiency,idle_share_usd,cost_usd"
    )
    assert {line.split(",")[0] for line in lines[1:]} == {
        "prod-use1",
        "prod-usw2",
        "train-use1",
        "__idle__",
    }


def test_tokens_per_tenant_add_up_to_the_models_gpu_cost(demo_db):
    by_model = json.loads(costlab("--db", str(demo_db), "tokens", "--format", "json").stdout)
    by_tenant = json.loads(
        costlab("--db", str(demo_db), "tokens", "--by", "tenant", "--format", "json").stdout
    )
    served = sum(r["gpu_cost_usd"] for r in by_model["rows"] if r["requests"])
    assert served > 0
    assert abs(sum(r["gpu_cost_usd"] for r in by_tenant["rows"]) - served) < 0.01
    rate = next(r for r in by_model["rows"] if r["requests"])
    # output tokens weigh 4x input tokens by default
    assert abs(rate["usd_per_1m_output"] - 4 * rate["usd_per_1m_input"]) < 1e-6


def test_allocate_from_an_exported_parquet_layout_matches(demo_db, tmp_path):
    out = tmp_path / "layout"
    assert costlab("--db", str(demo_db), "export", "parquet", "--out", str(out)).returncode == 0
    copy = tmp_path / "copy.duckdb"
    copy.write_bytes(demo_db.read_bytes())
    direct = json.loads(costlab("--db", str(demo_db), "allocate", "--format", "json").stdout)
    from_parquet = costlab("--db", str(copy), "allocate", "--input", str(out), "--format", "json")
    assert from_parquet.returncode == 0, from_parquet.stderr
    assert json.loads(from_parquet.stdout) == direct
