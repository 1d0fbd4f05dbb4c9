"""Shared pieces of the fuzz suite: hypothesis settings, a tiny allocated database, a runner of
the real CLI entry point that captures what a user would see."""

from __future__ import annotations

import contextlib
import io
import os
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from costlab import store
from costlab.cli import main

# Modest and deadline-free (the machine may be busy); in CI the same examples every run.
CI = bool(os.environ.get("CI"))


def fuzz_settings(max_examples: int) -> settings:
    return settings(
        max_examples=max_examples,
        deadline=None,
        derandomize=CI,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    )


@dataclass
class Outcome:
    code: int
    out: str
    err: str

    def check(self) -> None:
        """What every run must satisfy: a known exit code and no traceback."""
        assert self.code in (0, 1, 2), (self.code, self.err[-2000:])
        assert "Traceback" not in self.out + self.err, self.err[-2000:]


def cli(*args: str) -> Outcome:
    """`costlab ARGS` in-process through `costlab.cli.main`; any exception but SystemExit
    propagates (and fails the test with the example that caused it)."""
    out, err = io.StringIO(), io.StringIO()
    code = 0
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            main(list(args))
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
    return Outcome(code, out.getvalue(), err.getvalue())


@pytest.fixture(scope="session")
def fuzz_place(tmp_path_factory) -> Path:
    """A folder with a tiny allocated database (`fuzz.duckdb`: two nodes, three pods, four hours),
    a plain file `afile` and a binary `bin.yaml`."""
    from allocate_fixtures import dcgm, node, pod, price, team

    from costlab.allocate.gpu import allocate_window
    from costlab.timeutil import Window

    place = tmp_path_factory.mktemp("fuzz")
    conn = store.connect(place / "fuzz.duckdb")
    try:
        price(conn, "g5.12xlarge", 16)
        price(conn, "p4d.24xlarge", 32.77)
        node(conn, "n1", "g5.12xlarge", 4, 0, 4, gpu_model="A10G")
        node(conn, "n2", "p4d.24xlarge", 8, 1, 3)
        team(conn, "search", "search-team")
        pod(conn, "search", "s-0", "n1", 0, 4, 2)
        pod(conn, "ml", "m-0", "n2", 1, 3, 8, labels={"team": "research"})
        pod(conn, "chat", "c-0", "n1", 1, 2, 1)
        dcgm(conn, "n1", 0, 0, 4, 70, namespace="search", pod_name="s-0")
        from allocate_fixtures import at

        allocate_window(conn, Window(at(0), at(4)), at(4))
    finally:
        conn.close()
    (place / "afile").write_text("not a database\n")
    (place / "bin.yaml").write_bytes(bytes(range(128, 256)))
    return place


@pytest.fixture
def in_place(fuzz_place, monkeypatch) -> Path:
    """`fuzz_place` as the working directory for one test (relative paths land there)."""
    monkeypatch.chdir(fuzz_place)
    return fuzz_place
