"""Start `costlab --db X dashboard --port P` as a subprocess and wait for /_stcore/health."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.dashboard.browser import free_port

REPO = Path(__file__).resolve().parents[2]


@contextmanager
def dashboard_server(
    db: Path, *, tenant: str | None = None, env: dict[str, str] | None = None, timeout: float = 90
) -> Iterator[str]:
    """Yield the base URL of a running dashboard; the process group is ended afterwards."""
    port = free_port()
    cmd = [
        sys.executable,
        "-m",
        "costlab.cli",
        "--db",
        str(db),
        "dashboard",
        "--port",
        str(port),
        "--address",
        "127.0.0.1",
    ]
    if tenant:
        cmd += ["--tenant", tenant]
    full_env = dict(
        os.environ,
        **(env or {}),
        STREAMLIT_BROWSER_GATHER_USAGE_STATS="false",
    )
    proc = subprocess.Popen(
        cmd,
        cwd=REPO,
        env=full_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while True:
            if proc.poll() is not None:
                out = proc.stdout.read().decode(errors="replace") if proc.stdout else ""
                raise RuntimeError(f"dashboard exited with {proc.returncode}: {out[-2000:]}")
            try:
                with urllib.request.urlopen(f"{base}/_stcore/health", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError("dashboard did not become healthy")
            time.sleep(0.3)
        yield base
    finally:
        try:
            os.killpg(proc.pid, 15)
        except ProcessLookupError:
            pass
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, 9)
            proc.wait()
