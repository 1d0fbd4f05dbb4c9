"""The CLI as used from a terminal and from scripts: progress on stderr only, tables not cut to 80
columns in a pipe, read-only commands that never create a database, --version, completion."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from importlib.metadata import version

import pytest

from costlab import progress
from costlab.cli import PIPE_WIDTH


def costlab(*args: str, cwd=None, **env: str) -> subprocess.CompletedProcess:
    """The CLI in a child process whose stdout and stderr are pipes, not a terminal."""
    terminal = ("COLUMNS", "FORCE_COLOR", "TTY_COMPATIBLE")  # rich's terminal overrides
    clean = {k: v for k, v in os.environ.items() if k not in terminal}
    return subprocess.run(
        [sys.executable, "-c", "from costlab.cli import main; main()", *args],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=cwd,
        env={**clean, **env},
    )


def test_allocate_progress_lines_go_to_stderr_and_json_stays_parseable(demo_db, tmp_path):
    db = tmp_path / "copy.duckdb"
    db.write_bytes(demo_db.read_bytes())
    result = costlab(
        "--db",
        str(db),
        "allocate",
        "--format",
        "json",
        COSTLAB_ALLOCATE_MAX_WINDOW_DAYS="1",  # the 2-day demo in 2 chunks
        COSTLAB_PROGRESS_INTERVAL="0",  # a line at every step, not every 10 s
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["rows"]
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert re.fullmatch(
        r"allocate: 1/2 chunks, 50 %, ETA \d+ s \(allocate 2026-\d\d-\d\d\)", lines[0]
    ), lines[0]


def test_progress_is_quiet_for_a_run_shorter_than_the_interval(demo_db, tmp_path):
    db = tmp_path / "copy.duckdb"
    db.write_bytes(demo_db.read_bytes())
    result = costlab(
        "--db", str(db), "allocate", "--format", "csv", COSTLAB_ALLOCATE_MAX_WINDOW_DAYS="1"
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""


def test_plain_progress_lines_every_interval(monkeypatch, capsys):
    monkeypatch.setenv("COSTLAB_PROGRESS_INTERVAL", "0")
    progress.enable()
    try:
        with progress.track("report", 4, "steps") as bar:
            for step in ("period", "savings", "figures", "files"):
                bar.update(description=f"report: {step}")
                bar.advance()
    finally:
        progress.enable(False)
    out, err = capsys.readouterr()
    assert out == ""
    lines = err.splitlines()
    assert [re.sub(r"ETA \d+ s", "ETA n s", line) for line in lines] == [
        "report: 1/4 steps, 25 %, ETA n s (report: period)",
        "report: 2/4 steps, 50 %, ETA n s (report: savings)",
        "report: 3/4 steps, 75 %, ETA n s (report: figures)",
    ]


def test_on_a_terminal_progress_is_a_rich_bar_on_stderr(monkeypatch, capsys):
    monkeypatch.setenv("TTY_COMPATIBLE", "1")  # rich's switch: treat stderr as a terminal
    progress.enable()
    try:
        bar = progress.track("allocate", 3, "chunks")
        with bar:
            for _ in range(3):
                bar.advance()
    finally:
        progress.enable(False)
    assert type(bar).__name__ == "_Bar"
    assert capsys.readouterr().out == ""


def test_library_calls_show_no_progress():
    assert isinstance(progress.track("allocate", 10, "chunks"), progress.NoProgress)
    assert isinstance(progress.progress_bar(None, 10), progress.NoProgress)


def test_tables_in_a_pipe_are_not_cut_to_80_columns(demo_db):
    result = costlab("--db", str(demo_db), "tokens")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    width = max(len(line) for line in lines)
    assert 80 < width <= PIPE_WIDTH
    assert "…" not in result.stdout
    header = next(line for line in lines if "list $/1M" in line)
    for col in ("GPU $", "in tokens", "out tokens", "requests", "$/1M in", "$/1M out"):
        assert col in header


def test_columns_still_sets_the_width_of_a_pipe(demo_db):
    result = costlab("--db", str(demo_db), "tokens", COLUMNS="100")
    assert result.returncode == 0, result.stderr
    assert max(len(line) for line in result.stdout.splitlines()) <= 100


READ_ONLY = [
    ["tokens"],
    ["simulate"],
    ["recommend", "--out", "manifests"],
    ["rules", "--out", "rules.yaml"],
    ["exporter"],
    ["report", "--out", "report"],
    ["dashboard"],
    ["export", "parquet", "--out", "layout"],
]


@pytest.mark.parametrize("command", READ_ONLY, ids=" ".join)
def test_read_only_commands_never_create_a_database(tmp_path, command):
    db = tmp_path / "missing.duckdb"
    result = costlab("--db", str(db), *command, cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr == (
        f"error: no costlab database at {db}: run `costlab demo` or `costlab collect` first\n"
    )
    assert result.stdout == ""
    assert list(tmp_path.iterdir()) == []


def test_version_comes_from_the_package_metadata():
    result = costlab("--version")
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"costlab {version('costlab')}\n"


def test_shell_completion_is_enabled():
    result = costlab("--show-completion", "bash")
    assert result.returncode == 0, result.stderr
    assert "_COSTLAB_COMPLETE=complete_bash" in result.stdout
    words = subprocess.run(
        [sys.executable, "-c", "from costlab.cli import main; main()"],
        capture_output=True,
        text=True,
        timeout=120,
        env={
            **os.environ,
            "_COSTLAB_COMPLETE": "complete_bash",
            "COMP_WORDS": "costlab all",
            "COMP_CWORD": "1",
        },
    )
    assert words.stdout.split() == ["allocate"]


def test_help_shows_bracketed_text(tmp_path):
    result = costlab("--help", COLUMNS="200")
    assert "(env COSTLAB_DB, default ./costlab.duckdb)" in result.stdout


def test_progress_is_off_again_after_an_in_process_command(demo_db):
    from typer.testing import CliRunner

    from costlab.cli import app

    result = CliRunner().invoke(app, ["--db", str(demo_db), "tokens", "--format", "json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["rows"]
    assert not progress.enabled()
