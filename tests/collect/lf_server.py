"""A fake LangFuse public API on 127.0.0.1 whose every request and response is checked against
the real OpenAPI spec (tests/fixtures/langfuse/openapi.yml, MIT, see tests/fixtures/NOTICE.md) with openapi-core.

It serves `GET /api/public/v2/observations` (filters: type, fromStartTime, toStartTime, traceId,
isRootObservation; cursor pagination; field groups) from an in-memory, mutable list, so tests can
add late observations or update existing ones between runs. Faults (429 with Retry-After, a
looping cursor) are queued per test. Spec violations are collected in `errors`, never hidden.
"""

from __future__ import annotations

import base64
import json
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import yaml
from openapi_core import Config, OpenAPI
from openapi_core.datatypes import RequestParameters
from werkzeug.datastructures import Headers, ImmutableMultiDict

SPEC = Path(__file__).resolve().parents[1] / "fixtures" / "langfuse" / "openapi.yml"
OBSERVATIONS_PATH = "/api/public/v2/observations"

# Field groups of the v2 observations endpoint (spec: GET /api/public/v2/observations, `fields`).
CORE = ("id", "traceId", "startTime", "endTime", "projectId", "parentObservationId", "type")
GROUPS: dict[str, tuple[str, ...]] = {
    "basic": (
        "name",
        "level",
        "statusMessage",
        "version",
        "environment",
        "bookmarked",
        "public",
        "userId",
        "sessionId",
        "isRootObservation",
    ),
    "time": ("completionStartTime", "createdAt", "updatedAt"),
    "io": ("input", "output"),
    "metadata": ("metadata",),
    "model": (
        "providedModelName",
        "internalModelId",
        "modelParameters",
        "modelId",
        "inputPrice",
        "outputPrice",
        "totalPrice",
    ),
    "usage": ("usageDetails", "costDetails", "totalCost", "usagePricingTierName"),
    "prompt": ("promptId", "promptName", "promptVersion"),
    "metrics": ("latency", "timeToFirstToken"),
    "trace_context": ("tags", "release", "traceName"),
}
# Required by the ObservationV2 schema even when their group is not requested (null then).
ALWAYS_PRESENT = ("modelId", "inputPrice", "outputPrice", "totalPrice")


@cache
def openapi() -> OpenAPI:
    with SPEC.open() as fh:
        spec = yaml.load(fh, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    return OpenAPI.from_dict(spec, config=Config(spec_validator_cls=None))


@dataclass
class _Req:
    host_url: str
    path: str
    method: str
    parameters: RequestParameters
    body: bytes | None = None
    content_type: str = "application/json"

    @property
    def full_url_pattern(self) -> str:
        return self.host_url + self.path


@dataclass
class _Resp:
    status_code: int
    data: bytes
    headers: Headers
    content_type: str = "application/json"


@dataclass
class Fault:
    status: int = 429
    retry_after: str | None = "1"


@dataclass
class FakeLangfuse:
    """The server state; `start()` serves it on an ephemeral 127.0.0.1 port."""

    public_key: str = "pk-lf-test"
    secret_key: str = "sk-lf-test-secret-0123456789"
    observations: list[dict[str, Any]] = field(default_factory=list)
    faults: list[Fault] = field(default_factory=list)  # consumed one per request, in order
    loop_cursor: bool = False  # answer every page with the same cursor (a broken server)
    requests: list[dict[str, list[str]]] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    auth_headers: list[str] = field(default_factory=list)
    _server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self._server is not None
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> FakeLangfuse:
        openapi()  # parse the spec once, before the first request
        state = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                status, body, headers = state.handle(self.path, dict(self.headers.items()))
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server:
            self._server.shutdown()
            self._server.server_close()

    # -- request handling -------------------------------------------------------------------

    def handle(self, raw_path: str, headers: dict[str, str]) -> tuple[int, bytes, dict[str, str]]:
        split = urlsplit(raw_path)
        query = parse_qs(split.query, keep_blank_values=True)
        self.requests.append(query)
        self.auth_headers.append(headers.get("Authorization", ""))
        status, payload, extra = self._route(split.path, query, headers)
        body = json.dumps(payload).encode()
        if split.path == OBSERVATIONS_PATH and status in (200, 400, 401):
            self._validate(split.path, query, headers, status, body)
        self.statuses.append(status)
        return status, body, {"Content-Type": "application/json", **extra}

    def _route(
        self, path: str, query: dict[str, list[str]], headers: dict[str, str]
    ) -> tuple[int, Any, dict]:
        expected = (
            "Basic " + base64.b64encode(f"{self.public_key}:{self.secret_key}".encode()).decode()
        )
        if headers.get("Authorization") != expected:
            return 401, {"message": "Invalid credentials"}, {}
        if self.faults:
            fault = self.faults.pop(0)
            return (
                fault.status,
                {"message": "rate limit exceeded"},
                ({"Retry-After": fault.retry_after} if fault.retry_after else {}),
            )
        if path != OBSERVATIONS_PATH:
            return 404, {"message": "not found"}, {}
        return 200, self._observations(query), {}

    def _observations(self, query: dict[str, list[str]]) -> dict[str, Any]:
        def one(name: str) -> str | None:
            return query[name][0] if name in query else None

        rows = list(self.observations)
        if one("type"):
            rows = [o for o in rows if o["type"] == one("type")]
        if one("traceId"):
            rows = [o for o in rows if o["traceId"] == one("traceId")]
        if one("isRootObservation") is not None:
            want = one("isRootObservation") == "true"
            rows = [o for o in rows if (o["parentObservationId"] is None) == want]
        if one("fromStartTime"):
            lo = _ts(one("fromStartTime"))
            rows = [o for o in rows if _ts(o["startTime"]) >= lo]
        if one("toStartTime"):
            hi = _ts(one("toStartTime"))
            rows = [o for o in rows if _ts(o["startTime"]) < hi]
        rows.sort(key=lambda o: (_ts(o["startTime"]), o["id"]))
        limit = int(one("limit") or 50)
        offset = json.loads(base64.b64decode(one("cursor")))["offset"] if one("cursor") else 0
        page = rows[offset : offset + limit]
        more = offset + limit < len(rows)
        cursor = (
            base64.b64encode(json.dumps({"offset": offset + limit}).encode()).decode()
            if more
            else None
        )
        if self.loop_cursor:
            cursor = base64.b64encode(b'{"offset": 0}').decode()
        groups = {"core", "basic"} if not one("fields") else {"core", *one("fields").split(",")}
        keep = set(CORE) | set(ALWAYS_PRESENT) | {f for g in groups for f in GROUPS.get(g, ())}
        data = [
            {k: v for k, v in o.items() if k in keep}
            | {k: None for k in ALWAYS_PRESENT if k not in keep}
            for o in page
        ]
        return {"data": data, "meta": {"cursor": cursor} if cursor else {}}

    def _validate(self, path: str, query: dict, headers: dict, status: int, body: bytes) -> None:
        req = _Req(
            host_url=self.url,
            path=path,
            method="get",
            parameters=RequestParameters(
                query=ImmutableMultiDict([(k, v) for k, vs in query.items() for v in vs]),
                header=Headers(headers),
            ),
        )
        resp = _Resp(
            status_code=status, data=body, headers=Headers({"Content-Type": "application/json"})
        )
        for error in openapi().iter_request_errors(req):
            self.errors.append(f"request {query}: {error}: {getattr(error, '__cause__', '')}")
        for error in openapi().iter_response_errors(req, resp):
            detail = "; ".join(str(e) for e in getattr(error, "schema_errors", []) or [])
            self.errors.append(
                f"response {status}: {error}: {detail or getattr(error, '__cause__', '')}"
            )


def _ts(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)
