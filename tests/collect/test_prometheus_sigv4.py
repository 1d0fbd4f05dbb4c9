"""SigV4 signing for Amazon Managed Service for Prometheus, against a local server that checks
the Authorization header's shape and recomputes the signature with the same fake credentials.

The credentials come from the environment through botocore's default chain; shared config files
and instance metadata are switched off, so nothing outside the test is read.
"""

from __future__ import annotations

import http.server
import json
import re
import threading
import urllib.parse
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from prom_server import free_port

from costlab import store
from costlab.collect.prometheus import PRICES, PrometheusSettings, collect
from costlab.errors import CollectorError
from costlab.timeutil import Window

KEY_ID, SECRET, TOKEN = "AKIDEXAMPLEFAKE", "fake/secret/key/for/tests", "fake-session-token"
REGION = "us-west-2"
HEADER = re.compile(
    r"^AWS4-HMAC-SHA256 Credential=(?P<key>[A-Z0-9]+)/(?P<date>\d{8})/(?P<region>[a-z0-9-]+)"
    r"/aps/aws4_request, SignedHeaders=(?P<signed>[a-z0-9;-]+), Signature=(?P<sig>[0-9a-f]{64})$"
)
T0 = datetime(2026, 11, 1, tzinfo=UTC)


class SigV4Server:
    """Answers the Prometheus API with empty results when the request is correctly signed, 403
    otherwise; records what it saw."""

    def __init__(self, secret: str = SECRET) -> None:
        self.seen: list[dict[str, str]] = []
        self.rejected: list[str] = []
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                return None

            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                problem = server.check(self, body, secret)
                if problem:
                    server.rejected.append(problem)
                    self.reply(403, {"status": "error", "errorType": "auth", "error": problem})
                elif self.path.endswith("/series"):
                    self.reply(200, {"status": "success", "data": []})
                else:
                    data = {"resultType": "matrix", "result": []}
                    self.reply(200, {"status": "success", "data": data})

            def reply(self, status: int, payload: dict) -> None:
                raw = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/workspaces/ws-fake"

    def check(self, h: http.server.BaseHTTPRequestHandler, body: bytes, secret: str) -> str:
        headers = {k.lower(): v for k, v in h.headers.items()}
        self.seen.append(headers)
        m = HEADER.match(headers.get("authorization", ""))
        if not m:
            return f"bad Authorization header: {headers.get('authorization')!r}"
        if (m["key"], m["region"]) != (KEY_ID, REGION):
            return "wrong key or region"
        if headers.get("x-amz-security-token") != TOKEN:
            return "missing session token"
        signed = m["signed"].split(";")
        if not {"host", "x-amz-date"} <= set(signed):
            return f"host/x-amz-date not signed: {signed}"
        # Recompute the signature from what arrived, with the server's copy of the secret.
        url = f"http://{headers['host']}{h.path}"
        req = AWSRequest(
            method=h.command, url=url, data=body, headers={k: headers[k] for k in signed}
        )
        req.context["timestamp"] = headers["x-amz-date"]
        signer = SigV4Auth(Credentials(KEY_ID, secret, TOKEN), "aps", REGION)
        expected = signer.signature(signer.string_to_sign(req, signer.canonical_request(req)), req)
        return "" if expected == m["sig"] else "signature mismatch"

    def __enter__(self) -> SigV4Server:
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def fake_aws(monkeypatch, tmp_path) -> Iterator[None]:
    for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_ROLE_ARN", "AWS_REGION"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", KEY_ID)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET)
    monkeypatch.setenv("AWS_SESSION_TOKEN", TOKEN)
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    yield


@pytest.mark.service
def test_sigv4_signs_every_request(fake_aws, monkeypatch):
    monkeypatch.setenv("COSTLAB_PROM_SIGV4", "true")
    conn = store.connect(":memory:")
    with SigV4Server() as server:
        report = collect(
            conn,
            window=Window(T0, T0 + timedelta(hours=1)),
            settings=PrometheusSettings(url=server.url),
            groups=(PRICES,),
        )
    conn.close()
    assert server.rejected == []
    # Three /query probes for the scrape interval (end, start, middle: no samples here), /series,
    # then one /query_range.
    assert report.requests == len(server.seen) == 5
    assert all(h["authorization"].startswith("AWS4-HMAC-SHA256 Credential=") for h in server.seen)
    path = urllib.parse.urlparse(server.url).path
    assert path == "/workspaces/ws-fake"  # the AMP workspace path is kept and signed


@pytest.mark.service
def test_wrong_secret_is_refused_not_retried(fake_aws):
    with SigV4Server(secret="another-secret") as server:
        with pytest.raises(CollectorError, match="HTTP 403"):
            collect(
                store.connect(":memory:"),
                window=Window(T0, T0 + timedelta(hours=1)),
                settings=PrometheusSettings(url=server.url, sigv4=True, sigv4_region=REGION),
                groups=(PRICES,),
            )
    assert server.rejected == ["signature mismatch"]


def test_no_credentials_is_a_clear_error(fake_aws, monkeypatch):
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name)
    with pytest.raises(CollectorError, match="no AWS credentials"):
        collect(
            store.connect(":memory:"),
            window=Window(T0, T0 + timedelta(hours=1)),
            settings=PrometheusSettings(url="http://127.0.0.1:1", sigv4=True),
            groups=(PRICES,),
        )
