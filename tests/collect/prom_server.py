"""Test helpers: a real Prometheus on 127.0.0.1 over TSDB blocks built with promtool, and a proxy
that can fail (503), count and record requests, or hang (to kill a collector mid-range)."""

from __future__ import annotations

import http.server
import json
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path

PROMETHEUS = "/usr/bin/prometheus"
PROMTOOL = "/usr/bin/promtool"

Series = tuple[str, dict[str, str], list[tuple[datetime, float]]]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def write_openmetrics(path: Path, series: Iterable[Series], types: dict[str, str]) -> int:
    """One metric family after another (OpenMetrics requires families to be contiguous)."""
    by_metric: dict[str, list[Series]] = {}
    for s in series:
        by_metric.setdefault(s[0], []).append(s)
    n = 0
    with path.open("w") as f:
        for metric, items in by_metric.items():
            f.write(f"# TYPE {metric} {types.get(metric, 'gauge')}\n")
            for _, labels, samples in items:
                lab = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
                for ts, value in samples:
                    f.write(f"{metric}{{{lab}}} {value} {ts.timestamp():.3f}\n")
                    n += 1
        f.write("# EOF\n")
    return n


def build_blocks(openmetrics: Path, data_dir: Path) -> None:
    data_dir.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [PROMTOOL, "tsdb", "create-blocks-from", "openmetrics", str(openmetrics), str(data_dir)],
        check=True,
        capture_output=True,
    )


class PromServer:
    """/usr/bin/prometheus serving a storage dir; no scrape targets, so the head stays empty."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen | None = None

    def __enter__(self) -> PromServer:
        config = self.data_dir.parent / "prometheus.yml"
        config.write_text("global:\n  scrape_interval: 15s\n")
        self.log = (self.data_dir.parent / f"prometheus-{self.port}.log").open("w")
        self.proc = subprocess.Popen(
            [
                PROMETHEUS,
                f"--config.file={config}",
                f"--storage.tsdb.path={self.data_dir}",
                "--storage.tsdb.retention.time=3650d",
                "--query.lookback-delta=5m",
                f"--web.listen-address=127.0.0.1:{self.port}",
            ],
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"{self.url}/-/ready", timeout=1) as resp:
                    if resp.status == 200:
                        return self
            except OSError:
                time.sleep(0.1)
        self.__exit__()
        raise RuntimeError(f"prometheus did not become ready; see {self.log.name}")

    def __exit__(self, *exc: object) -> None:
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


class Proxy:
    """Forwards to `upstream`; answers 503 to the first `fail_first` requests (or all, with
    fail_always); after `hang_after` forwarded requests, holds every request until released.

    `max_points` plays a backend with a per-query limit: a query_range with more evaluation points
    than that gets `too_large` (HTTP status, error text with `{points}` and `{limit}`).
    `retry_after` answers the first requests 429 with that `Retry-After` header (seconds).
    """

    def __init__(
        self,
        upstream: str,
        *,
        fail_first: int = 0,
        fail_always: bool = False,
        hang_after: int | None = None,
        max_points: int | None = None,
        too_large: tuple[int, str] = (422, ""),
        retry_after: list[str] | None = None,
    ):
        self.upstream = upstream
        self.fail_first = fail_first
        self.fail_always = fail_always
        self.hang_after = hang_after
        self.max_points = max_points
        self.too_large = too_large
        self.retry_after = list(retry_after or [])
        self.refused = 0
        self.arrivals: list[float] = []  # time.monotonic() of each request
        self.requests: list[tuple[str, dict[str, list[str]]]] = []
        self.failed = 0
        self.forwarded = 0
        self.hanging = threading.Event()
        self.release = threading.Event()
        self.lock = threading.Lock()
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                return None

            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                proxy._handle(self, body)

            def do_GET(self) -> None:  # noqa: N802
                proxy._handle(self, b"")

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def _reply(
        self, h: http.server.BaseHTTPRequestHandler, status: int, body: dict, **headers: str
    ) -> None:
        payload = json.dumps(body).encode()
        h.send_response(status)
        h.send_header("Content-Type", "application/json")
        h.send_header("Content-Length", str(len(payload)))
        for key, value in headers.items():
            h.send_header(key.replace("_", "-"), value)
        h.end_headers()
        h.wfile.write(payload)

    def _points(self, path: str, params: dict[str, list[str]]) -> int:
        if not path.endswith("/query_range"):
            return 0
        start, end, step = (float(params[k][0]) for k in ("start", "end", "step"))
        return int((end - start) // step) + 1

    def _handle(self, h: http.server.BaseHTTPRequestHandler, body: bytes) -> None:
        params = urllib.parse.parse_qs(body.decode())
        with self.lock:
            self.arrivals.append(time.monotonic())
            self.requests.append((h.path, params))
            wait = self.retry_after.pop(0) if self.retry_after else None
            fail = wait is None and (self.fail_always or self.failed < self.fail_first)
            if fail:
                self.failed += 1
            points = self._points(h.path, params)
            refuse = self.max_points is not None and points > self.max_points
            if refuse:
                self.refused += 1
            hang = not fail and self.hang_after is not None and self.forwarded >= self.hang_after
            if not fail and not hang and wait is None and not refuse:
                self.forwarded += 1
        if wait is not None:
            error = {"status": "error", "errorType": "too_many_requests", "error": "rate limited"}
            self._reply(h, 429, error, Retry_After=wait)
            return
        if fail:
            self._reply(
                h, 503, {"status": "error", "errorType": "unavailable", "error": "try later"}
            )
            return
        if refuse:
            status, text = self.too_large
            error = text.format(points=points, limit=self.max_points)
            self._reply(h, status, {"status": "error", "errorType": str(status), "error": error})
            return
        if hang:
            self.hanging.set()
            self.release.wait(60)
            return
        req = urllib.request.Request(self.upstream + h.path, data=body or None, method=h.command)
        if body:
            req.add_header("Content-Type", "application/x-www-form-urlencoded")
        with urllib.request.urlopen(req, timeout=30) as resp:
            data = resp.read()
            status = resp.status
        h.send_response(status)
        h.send_header("Content-Type", "application/json")
        h.send_header("Content-Length", str(len(data)))
        h.end_headers()
        h.wfile.write(data)

    def range_starts(self) -> list[tuple[str, datetime]]:
        out = []
        for path, params in self.requests:
            if path.endswith("/query_range"):
                out.append(
                    (params["query"][0], datetime.fromtimestamp(float(params["start"][0]), UTC))
                )
        return out

    def __enter__(self) -> Proxy:
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


def requests_of_a_full_run(upstream: str, run_args: list[str], scratch_db: Path) -> int:
    """How many requests `prom_run.py` makes for a whole run (`run_args` after DB and URL), counted
    through a Proxy: the kill tests hang the proxy half-way, wherever the client's query plan puts
    that (interval probes, series counts and range queries all count)."""
    script = Path(__file__).with_name("prom_run.py")
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[2]))
    with Proxy(upstream) as proxy:
        subprocess.run(
            [sys.executable, str(script), str(scratch_db), proxy.url, *run_args],
            env=env,
            check=True,
            timeout=600,
        )
        return proxy.forwarded
