"""A headless Chromium driven over the DevTools protocol, with only the stdlib and tornado
(already installed with streamlit): load a page, wait until Streamlit has rendered, screenshot.

Used by tests/dashboard/test_browser.py and bench/bench_dashboard.py.
"""

from __future__ import annotations

import asyncio
import base64
import json
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

from tornado.websocket import websocket_connect

CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--hide-scrollbars",
    "--mute-audio",
]

# What the page looks like once rendered, read in the browser (returned as JSON).
PROBE_JS = r"""
(() => {
  const q = (s) => document.querySelectorAll(s);
  const plots = [...q('.js-plotly-plot')];
  return JSON.stringify({
    app: q('[data-testid="stApp"]').length,
    running: q('[data-testid="stStatusWidget"]').length,
    skeleton: q('[data-testid="stSkeleton"]').length,
    exceptions: [...q('[data-testid="stException"]')].map(e => e.innerText.slice(0, 500)),
    errors: [...q('[data-testid="stAlertContentError"]')].map(e => e.innerText.slice(0, 500)),
    dialogs: [...q('[role="dialog"]')].map(e => e.innerText.slice(0, 300)),
    plots: plots.length,
    plots_with_data: plots.filter(p => p.querySelector('.plot-container svg.main-svg')
        && Array.isArray(p._fullData)
        && p._fullData.some(t => t.visible !== false && t._length > 0)).length,
    metrics: [...q('[data-testid="stMetricValue"]')].map(e => e.innerText),
    // every string a chart draws (trace names, categories, labels): what a viewer can read
    plot_strings: [...new Set(plots.flatMap(p => (p._fullData || []).flatMap(t =>
        [t.name, t.legendgroup, ...[t.x, t.y, t.labels, t.ids, t.parents, t.text, t.customdata]
            .flatMap(v => Array.isArray(v) ? v.flat(2) : [])]
        .filter(v => typeof v === 'string'))))].slice(0, 5000),
    text: (document.querySelector('[data-testid="stMain"]') || document.body)
        .innerText.slice(0, 4000),
  });
})()
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def find_chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    raise FileNotFoundError("chromium is not installed (CI: apt-get install chromium)")


class Chromium:
    """One headless browser process with a fresh profile, spoken to over CDP."""

    def __init__(self, width: int = 1500, height: int = 2600) -> None:
        self.port = free_port()
        self.profile = tempfile.mkdtemp(prefix="costlab-chromium-")
        self.proc = subprocess.Popen(
            [
                find_chromium(),
                *CHROMIUM_FLAGS,
                f"--user-data-dir={self.profile}",
                f"--remote-debugging-port={self.port}",
                "--remote-debugging-address=127.0.0.1",
                f"--window-size={width},{height}",
                "about:blank",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self.width, self.height = width, height
        self._ws_url = self._page_ws_url()

    def _page_ws_url(self) -> str:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(
                    f"http://127.0.0.1:{self.port}/json/list", timeout=2
                ) as r:
                    targets = json.load(r)
                for t in targets:
                    if t.get("type") == "page":
                        return t["webSocketDebuggerUrl"]
            except OSError:
                pass
            time.sleep(0.2)
        raise TimeoutError("chromium did not open its DevTools port")

    def close(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        shutil.rmtree(self.profile, ignore_errors=True)

    def __enter__(self) -> Chromium:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def load(
        self,
        url: str,
        screenshot: Path | None = None,
        timeout: float = 60,
        settle: float = 1.5,
        min_plots: int = 1,
    ) -> dict[str, Any]:
        """Open `url`, wait until Streamlit is idle with at least `min_plots` charts (or an
        error/empty state), optionally screenshot the window (make it tall: Streamlit scrolls
        inside its main block). Returns the probe result plus `seconds_to_first_chart` and
        `seconds_to_idle`."""
        return asyncio.run(self._load(url, screenshot, timeout, settle, min_plots))

    async def _load(
        self, url: str, screenshot: Path | None, timeout: float, settle: float, min_plots: int
    ) -> dict[str, Any]:
        ws = await websocket_connect(self._ws_url, max_message_size=256 * 1024 * 1024)
        ids = iter(range(1, 1_000_000))

        async def call(method: str, **params: Any) -> dict[str, Any]:
            msg_id = next(ids)
            await ws.write_message(json.dumps({"id": msg_id, "method": method, "params": params}))
            while True:
                raw = await ws.read_message()
                if raw is None:
                    raise ConnectionError("DevTools connection closed")
                msg = json.loads(raw)
                if msg.get("id") == msg_id:
                    if "error" in msg:
                        raise RuntimeError(f"{method}: {msg['error']}")
                    return msg.get("result", {})

        async def probe() -> dict[str, Any]:
            res = await call("Runtime.evaluate", expression=PROBE_JS, returnByValue=True)
            return json.loads(res["result"]["value"])

        try:
            await call("Page.enable")
            t0 = time.monotonic()
            await call("Page.navigate", url=url)
            first_chart = None
            stable_since = None
            state: dict[str, Any] = {}
            while time.monotonic() - t0 < timeout:
                await asyncio.sleep(0.1)
                try:
                    state = await probe()
                except (RuntimeError, KeyError, json.JSONDecodeError):
                    continue
                if first_chart is None and state["plots_with_data"] > 0:
                    first_chart = time.monotonic() - t0
                done = (
                    state["app"]
                    and not state["running"]
                    and not state["skeleton"]
                    and (
                        state["plots_with_data"] >= min_plots
                        or state["exceptions"]
                        or state["errors"]
                        or "No data yet" in state["text"]
                    )
                )
                if done:
                    stable_since = stable_since or time.monotonic()
                    if time.monotonic() - stable_since >= settle:
                        break
                else:
                    stable_since = None
            state["seconds_to_first_chart"] = first_chart
            state["seconds_to_idle"] = time.monotonic() - t0
            if screenshot is not None:
                shot = await call("Page.captureScreenshot", format="png")
                screenshot.parent.mkdir(parents=True, exist_ok=True)
                screenshot.write_bytes(base64.b64decode(shot["data"]))
            return state
        finally:
            ws.close()
