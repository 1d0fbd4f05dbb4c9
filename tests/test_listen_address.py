"""The dashboard and the exporter listen on 127.0.0.1 unless --address says otherwise (issue #14):
both show every tenant's spend, so a laptop run must not serve the whole network.

The bound addresses are read from the kernel's socket table (/proc/net/tcp, tcp6), not from
costlab's own idea of what it asked for.
"""

from __future__ import annotations

import ipaddress
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from costlab import store
from costlab.emit.exporter import ExporterSettings, make_server

pytestmark = pytest.mark.service

LISTEN = "0A"  # TCP_LISTEN in include/net/tcp_states.h


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _address(hex_addr: str) -> str:
    """/proc/net/tcp{,6} writes addresses as 32-bit words in host (little-endian) byte order."""
    raw = bytes.fromhex(hex_addr)
    words = b"".join(raw[i : i + 4][::-1] for i in range(0, len(raw), 4))
    return str(ipaddress.ip_address(words))


def listening(port: int) -> set[str]:
    """Every local address with a socket listening on TCP `port`."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        lines = Path(table).read_text().splitlines()[1:] if Path(table).exists() else []
        for line in lines:
            fields = line.split()
            addr, hex_port = fields[1].split(":")
            if int(hex_port, 16) == port and fields[3] == LISTEN:
                found.add(_address(addr))
    return found


@contextmanager
def cli_server(db: Path, cwd: Path, *args: str, timeout: float = 90) -> Iterator[tuple[int, int]]:
    """`costlab --db DB <args> --port P` as a child; yields (port, pid) once P is listening."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("COSTLAB_", "STREAMLIT_"))}
    env["STREAMLIT_BROWSER_GATHER_USAGE_STATS"] = "false"
    proc = subprocess.Popen(
        [sys.executable, "-m", "costlab.cli", "--db", str(db), *args, "--port", str(port)],
        cwd=cwd,  # no costlab.toml of the caller's
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + timeout
        while not listening(port):
            if proc.poll() is not None:
                out = proc.stdout.read().decode(errors="replace") if proc.stdout else ""
                raise RuntimeError(f"{args[0]} exited with {proc.returncode}: {out[-2000:]}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"{args[0]} did not listen on {port}")
            time.sleep(0.2)
        yield port, proc.pid
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "c.duckdb"
    store.connect(path).close()
    return path


def get(url: str) -> int:
    with urllib.request.urlopen(url, timeout=10) as r:
        return int(r.status)


def test_the_exporter_listens_on_loopback_by_default(db, tmp_path):
    with cli_server(db, tmp_path, "exporter") as (port, _pid):
        assert listening(port) == {"127.0.0.1"}
        assert get(f"http://127.0.0.1:{port}/metrics") == 200


def test_the_exporter_listens_where_address_says(db, tmp_path):
    with cli_server(db, tmp_path, "exporter", "--address", "0.0.0.0") as (port, _pid):
        assert listening(port) == {"0.0.0.0"}


def test_the_exporter_server_binds_loopback_without_settings(db):
    server, thread = make_server(db, port=free_port())
    try:
        assert server.server_address[0] == "127.0.0.1"
        assert ExporterSettings().host == "127.0.0.1"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def test_the_dashboard_listens_on_loopback_by_default(db, tmp_path):
    with cli_server(db, tmp_path, "dashboard") as (port, pid):
        # exec'd into Streamlit: the same pid, asked for loopback explicitly
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        at = cmdline.index(b"--server.address")
        assert cmdline[at + 1] == b"127.0.0.1"
        assert listening(port) == {"127.0.0.1"}
        deadline = time.monotonic() + 60
        while True:
            try:
                assert get(f"http://127.0.0.1:{port}/_stcore/health") == 200
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.3)
