"""A small Prometheus HTTP API client: range queries, series counts, retries, sample frames.

Works against anything that speaks the Prometheus HTTP API (Prometheus, Thanos Querier, Mimir,
Cortex, VictoriaMetrics, Amazon Managed Service for Prometheus): the base URL is the part before
`/api/v1`, extra headers (e.g. `X-Scope-OrgID` for Mimir) and a bearer token are sent with every
request; for AMP, `SigV4` signs every request with botocore (credentials from the default chain).

Transient failures (HTTP 5xx and 429, connection errors, timeouts) are retried with exponential
backoff; anything else raises `CollectorError` at once. A query that Prometheus refuses because
it is too large (HTTP 422 / "exceeded maximum resolution" / "query processing would load too many
samples") raises `QueryTooLarge`, so the caller can split the range and ask again.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
import polars as pl
import requests

from costlab.errors import CollectorError

log = logging.getLogger(__name__)

_RETRY_STATUS = {429, 500, 502, 503, 504}
_TOO_LARGE = ("exceeded maximum resolution", "too many samples", "would load too many samples")


class QueryTooLarge(CollectorError):
    """Prometheus refused a query for its size: split the range and retry."""


class SigV4(requests.auth.AuthBase):
    """AWS Signature V4 for every request (Amazon Managed Service for Prometheus: service "aps").

    Credentials come from botocore's default chain (environment, shared files, SSO, web identity,
    container and instance roles) and are re-read on each request, so refreshed role credentials
    are picked up. Signed: method, path, query, body, `host`, `content-type` and `x-amz-*`.
    """

    def __init__(self, region: str, service: str = "aps") -> None:
        import botocore.session

        self.region, self.service = region, service
        self.credentials = botocore.session.get_session().get_credentials()
        if self.credentials is None:
            raise CollectorError(
                "SigV4: no AWS credentials found (environment, ~/.aws, SSO, web identity or "
                "instance role)"
            )

    def __call__(self, r: requests.PreparedRequest) -> requests.PreparedRequest:
        from botocore.auth import SigV4Auth
        from botocore.awsrequest import AWSRequest

        signed = {k: v for k, v in r.headers.items() if k.lower() == "content-type"}
        aws = AWSRequest(method=r.method, url=r.url, data=r.body or b"", headers=signed)
        SigV4Auth(self.credentials.get_frozen_credentials(), self.service, self.region).add_auth(
            aws
        )
        for key, value in aws.headers.items():
            if key.lower() in ("authorization", "x-amz-date", "x-amz-security-token"):
                r.headers[key] = value
        return r


@dataclass
class ClientStats:
    requests: int = 0
    retries: int = 0
    samples: int = 0


class PromClient:
    def __init__(
        self,
        url: str,
        *,
        headers: dict[str, str] | None = None,
        bearer_token: str | None = None,
        verify_tls: bool | str = True,
        timeout_s: float = 60.0,
        max_retries: int = 5,
        backoff_s: float = 0.5,
        max_backoff_s: float = 30.0,
        auth: requests.auth.AuthBase | None = None,
        sleep=time.sleep,
    ) -> None:
        if not url.startswith(("http://", "https://")):
            raise CollectorError(f"Prometheus URL must start with http:// or https://, got {url!r}")
        self.base = url.rstrip("/")
        if self.base.endswith("/api/v1"):
            self.base = self.base[: -len("/api/v1")]
        self.session = requests.Session()
        self.session.headers.update(headers or {})
        if bearer_token:
            self.session.headers["Authorization"] = f"Bearer {bearer_token}"
        self.session.verify = verify_tls
        self.session.auth = auth
        self.timeout_s = timeout_s
        self.max_retries = max_retries
        self.backoff_s = backoff_s
        self.max_backoff_s = max_backoff_s
        self.sleep = sleep
        self.stats = ClientStats()

    def close(self) -> None:
        self.session.close()

    def _get(self, path: str, params: dict | list) -> object:
        """POST form-encoded (the API accepts GET or POST; POST keeps long queries out of URLs)."""
        url = f"{self.base}/api/v1/{path}"
        attempt = 0
        while True:
            self.stats.requests += 1
            failure: str
            try:
                resp = self.session.post(url, data=params, timeout=self.timeout_s)
            except (requests.ConnectionError, requests.Timeout) as exc:
                failure = f"{type(exc).__name__}: {exc}"
            else:
                if resp.status_code == 200:
                    body = resp.json()
                    if body.get("status") != "success":
                        raise CollectorError(
                            f"Prometheus {path}: {body.get('errorType')}: {body.get('error')}"
                        )
                    return body["data"]
                text = _error_text(resp)
                if resp.status_code in (400, 422) and any(m in text for m in _TOO_LARGE):
                    raise QueryTooLarge(text)
                if resp.status_code not in _RETRY_STATUS:
                    raise CollectorError(
                        f"Prometheus {path} failed with HTTP {resp.status_code}: {text[:300]}"
                    )
                failure = f"HTTP {resp.status_code}: {text[:200]}"
            if attempt >= self.max_retries:
                raise CollectorError(
                    f"Prometheus {path} still failing after {attempt + 1} attempts: {failure}"
                )
            delay = min(self.max_backoff_s, self.backoff_s * (2**attempt))
            log.warning(
                "Prometheus %s: %s; retry %d/%d in %.2fs",
                path,
                failure,
                attempt + 1,
                self.max_retries,
                delay,
            )
            self.stats.retries += 1
            attempt += 1
            self.sleep(delay)

    def series_count(self, match: str, start: datetime, end: datetime) -> int:
        data = self._get("series", {"match[]": match, "start": _epoch(start), "end": _epoch(end)})
        return len(data)  # type: ignore[arg-type]

    def query_range(self, query: str, start: datetime, end: datetime, step_s: float) -> list[dict]:
        """Evaluation points start, start+step, ..., <= end (both ends inclusive)."""
        data = self._get(
            "query_range",
            {"query": query, "start": _epoch(start), "end": _epoch(end), "step": step_s},
        )
        if data.get("resultType") != "matrix":  # type: ignore[union-attr]
            raise CollectorError(
                f"expected a matrix from query_range, got {data.get('resultType')}"
            )  # type: ignore[union-attr]
        return data["result"]  # type: ignore[index]


def _error_text(resp: requests.Response) -> str:
    try:
        body = resp.json()
        return f"{body.get('errorType', '')}: {body.get('error', '')}"
    except ValueError:
        return resp.text


def _epoch(ts: datetime) -> str:
    return f"{ts.timestamp():.3f}"


def matrix_to_frame(metric: str, result: list[dict]) -> pl.DataFrame:
    """A query_range matrix to a *sample frame* (costlab.collect.series): metric, ts, value, labels.

    Values arrive as strings ("1.5", "NaN", "+Inf") and are parsed to f64; NaN/inf are kept so the
    loader can quarantine them with a reason.
    """
    if not result:
        return pl.DataFrame(
            schema={"metric": pl.String, "ts": pl.Datetime("us", "UTC"), "value": pl.Float64}
        )
    counts = np.fromiter((len(s["values"]) for s in result), dtype=np.int64, count=len(result))
    ts: list[float] = []
    values: list[str] = []
    for s in result:
        pairs = s["values"]
        ts.extend(p[0] for p in pairs)
        values.extend(p[1] for p in pairs)
    labels = pl.DataFrame(
        [{k: v for k, v in s["metric"].items() if k != "__name__"} for s in result]
    )
    sid = pl.Series("_sid", np.repeat(np.arange(len(result), dtype=np.int64), counts))
    samples = pl.DataFrame(
        {
            "_sid": sid,
            "ts": (pl.Series(ts, dtype=pl.Float64) * 1000).round(0).cast(pl.Int64),
            "value": pl.Series(values, dtype=pl.String).cast(pl.Float64, strict=False),
        }
    ).with_columns(
        pl.from_epoch("ts", time_unit="ms").dt.replace_time_zone("UTC").dt.cast_time_unit("us")
    )
    if labels.width:
        samples = samples.join(
            labels.with_row_index("_sid").with_columns(pl.col("_sid").cast(pl.Int64)), on="_sid"
        )
    return samples.drop("_sid").with_columns(pl.lit(metric).alias("metric"))


def epoch_now() -> datetime:
    return datetime.now(UTC)
