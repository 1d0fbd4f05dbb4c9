"""A small Prometheus HTTP API client: range and instant queries, series counts, sample frames.

Works against anything that speaks the Prometheus HTTP API (Prometheus, Thanos Querier, Mimir,
Cortex, VictoriaMetrics, Amazon Managed Service for Prometheus): the base URL is the part before
`/api/v1`, extra headers (e.g. `X-Scope-OrgID` for Mimir) and a bearer token are sent with every
request; for AMP, `SigV4` signs every request with botocore (credentials from the default chain).

Transport is `requests` with urllib3's `Retry` mounted on its adapter: transient failures (HTTP
429, 500, 502, 503, 504, connection errors, read timeouts) are retried with exponential backoff,
and a `Retry-After` header on 429/503 is honoured (capped at `max_retry_after_s`); anything else
raises `CollectorError` at once. A query that the server refuses because it is too large
(Prometheus' 11,000 points, VictoriaMetrics' `-search.maxPointsPerTimeseries` /
`-search.maxSamplesPerQuery`, Mimir/Cortex and Thanos query limits: `TOO_LARGE`) raises
`QueryTooLarge`, so the caller can split the range and ask again. Only the fast matrix parsing
(`matrix_bytes_to_frame`) and SigV4 signing are written here (docs/collect-prometheus.md,
"Transport").
"""

from __future__ import annotations

import json
import logging
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime

import numpy as np
import polars as pl
import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from costlab.errors import CollectorError
from costlab.redact import redact_text, redact_url

log = logging.getLogger(__name__)

RETRY_STATUS = frozenset({429, 500, 502, 503, 504})
# How servers say a query is too large, in their own words (substrings of the error text):
TOO_LARGE = (
    # Prometheus (and Thanos Querier, which runs the same engine): query_range with > 11,000 points
    "exceeded maximum resolution",
    # Prometheus --query.max-samples
    "would load too many samples",
    # VictoriaMetrics: "too many points for the given step=...; cannot exceed
    # -search.maxPointsPerTimeseries=N" and "cannot select more than -search.maxSamplesPerQuery=N
    # samples" (both HTTP 422)
    "-search.maxPointsPerTimeseries",
    "-search.maxSamplesPerQuery",
    # Mimir / Cortex query limits (HTTP 422 / 400)
    "the query hit the max number of chunks limit",
    "the query hit the aggregated chunks size limit",
    "the query hit the max number of series limit",
    "the query time range exceeds the limit",
    # Thanos / Mimir store-gateway limits, wrapped in "expanding series: ..." by the querier
    "exceeded series limit",
    "exceeded chunks limit",
    "exceeded bytes limit",
)


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
        credentials = botocore.session.get_session().get_credentials()
        if credentials is None:
            raise CollectorError(
                "SigV4: no AWS credentials found (environment, ~/.aws, SSO, web identity or "
                "instance role)"
            )
        self.credentials = credentials

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
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def add(self, *, requests: int = 0, retries: int = 0, samples: int = 0) -> None:
        """Thread-safe: the collector fetches several chunks at once."""
        with self.lock:
            self.requests += requests
            self.retries += retries
            self.samples += samples


class _Retry(Retry):
    """urllib3's Retry with the backoff this client always had: `backoff_s` before the first
    retry, doubling up to `max_backoff_s` (urllib3 retries the first time at once)."""

    def get_backoff_time(self) -> float:
        n = len(self.history)
        return 0.0 if n == 0 else float(min(self.backoff_max, self.backoff_factor * 2 ** (n - 1)))


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
        max_retry_after_s: float = 300.0,
        auth: requests.auth.AuthBase | None = None,
        query_params: dict[str, str] | None = None,
    ) -> None:
        if not url.startswith(("http://", "https://")):
            raise CollectorError(
                f"Prometheus URL must start with http:// or https://, got {redact_url(url)!r}"
            )
        self.base = url.rstrip("/")
        if self.base.endswith("/api/v1"):
            self.base = self.base[: -len("/api/v1")]
        self.headers = dict(headers or {})
        if bearer_token:
            self.headers["Authorization"] = f"Bearer {bearer_token}"
        self.verify_tls = verify_tls
        self.auth = auth
        self.query_params = dict(query_params or {})
        # One requests.Session per thread (sessions are not thread-safe); all closed by close().
        self._local = threading.local()
        self._sessions: list[requests.Session] = []
        self._sessions_lock = threading.Lock()
        self.timeout_s = timeout_s
        self._max_retries = max_retries
        # Every API call is a read, so POST (used to keep long queries out of URLs) is retried too.
        self.retry = _Retry(
            total=max_retries,
            status_forcelist=RETRY_STATUS,
            allowed_methods=frozenset({"GET", "POST"}),
            backoff_factor=backoff_s,
            backoff_max=max_backoff_s,
            respect_retry_after_header=True,
            retry_after_max=int(max_retry_after_s),
            raise_on_status=False,  # the last answer is returned: its error text is reported
            raise_on_redirect=False,
        )
        self.stats = ClientStats()

    @property
    def max_retries(self) -> int:
        return self._max_retries

    @max_retries.setter
    def max_retries(self, n: int) -> None:
        """Change the retry budget of every session, including those already open."""
        self._max_retries = n
        self.retry = self.retry.new(total=n)
        with self._sessions_lock:
            for session in self._sessions:
                adapter = HTTPAdapter(max_retries=self.retry)
                session.mount("http://", adapter)
                session.mount("https://", adapter)

    @property
    def session(self) -> requests.Session:
        """This thread's session (connection pool, retries, headers, TLS and auth settings)."""
        session = getattr(self._local, "session", None)
        if session is None:
            session = requests.Session()
            adapter = HTTPAdapter(max_retries=self.retry)
            session.mount("http://", adapter)
            session.mount("https://", adapter)
            session.headers.update(self.headers)
            session.verify = self.verify_tls
            session.auth = self.auth
            self._local.session = session
            with self._sessions_lock:
                self._sessions.append(session)
        return session

    def close(self) -> None:
        with self._sessions_lock:
            for session in self._sessions:
                session.close()
            self._sessions.clear()

    def _get(self, path: str, params: dict | list) -> object:
        """The `data` of a successful API response (see `_post`)."""
        return api_data(path, self._post(path, params).content)

    def _post(self, path: str, params: dict | list) -> requests.Response:
        """POST form-encoded (the API accepts GET or POST; POST keeps long queries out of URLs);
        an HTTP 200 response, after urllib3 retried transient failures."""
        url = f"{self.base}/api/v1/{path}"
        try:
            resp = self.session.post(url, data=params, timeout=self.timeout_s)
        except (requests.ConnectionError, requests.Timeout) as exc:
            self.stats.add(requests=self.max_retries + 1, retries=self.max_retries)
            # requests quotes the URL (path and query: tokens in `query_params` or the URL)
            raise CollectorError(
                f"Prometheus {path} still failing after {self.max_retries + 1} attempts: "
                + redact_text(f"{type(exc).__name__}: {exc}")
            ) from None
        history = resp.raw.retries.history if getattr(resp.raw, "retries", None) else ()
        self.stats.add(requests=len(history) + 1, retries=len(history))
        if resp.status_code == 200:
            return resp
        text = redact_text(_error_text(resp))  # a proxy's error page may echo the URL
        if resp.status_code >= 400 and any(m in text for m in TOO_LARGE):
            raise QueryTooLarge(text)
        if resp.status_code in RETRY_STATUS:
            raise CollectorError(
                f"Prometheus {path} still failing after {len(history) + 1} attempts: "
                f"HTTP {resp.status_code}: {text[:200]}"
            )
        raise CollectorError(f"Prometheus {path} failed with HTTP {resp.status_code}: {text[:300]}")

    def query_body(self, query: str, at: datetime) -> bytes:
        """The response body of an instant query at `at`: for a range vector (`metric[10m]`),
        a matrix of the raw samples in the range (parse with `matrix_bytes_to_frame`)."""
        return self._post(
            "query", {**self.query_params, "query": query, "time": _epoch(at)}
        ).content

    def series_count(self, match: str, start: datetime, end: datetime) -> int:
        data = self._get("series", {"match[]": match, "start": _epoch(start), "end": _epoch(end)})
        if not isinstance(data, list):
            raise CollectorError(f"Prometheus series: expected a list of series, got {_kind(data)}")
        return len(data)

    def query(self, query: str, at: datetime) -> dict:
        """An instant query at `at`: the API's `data` ({"resultType", "result"}); range-vector
        selectors return raw samples (resultType "matrix")."""
        data = self._get("query", {**self.query_params, "query": query, "time": _epoch(at)})
        return _instant(data)

    def label_names(self, match: str, start: datetime, end: datetime) -> list[str]:
        """Label names of the series matching `match` with samples in [start, end]."""
        data = self._get("labels", {"match[]": match, "start": _epoch(start), "end": _epoch(end)})
        if not isinstance(data, list) or not all(isinstance(n, str) for n in data):
            raise CollectorError(
                f"Prometheus labels: expected a list of label names, got {_kind(data)}"
            )
        return data

    def _range_params(self, query: str, start: datetime, end: datetime, step_s: float) -> dict:
        return {
            **self.query_params,
            "query": query,
            "start": _epoch(start),
            "end": _epoch(end),
            "step": step_s,
        }

    def query_range(self, query: str, start: datetime, end: datetime, step_s: float) -> list[dict]:
        """Evaluation points start, start+step, ..., <= end (both ends inclusive)."""
        data = self._get("query_range", self._range_params(query, start, end, step_s))
        result = _matrix(data)
        matrix_to_frame("query_range", result)  # checks shapes and times
        return result

    def query_range_frame(
        self, metric: str, query: str, start: datetime, end: datetime, step_s: float
    ) -> pl.DataFrame:
        """`query_range` as a sample frame (`matrix_to_frame`), read straight from the response
        bytes when they have the compact form Prometheus writes (`matrix_bytes_to_frame`)."""
        resp = self._post("query_range", self._range_params(query, start, end, step_s))
        frame = matrix_bytes_to_frame(metric, resp.content)
        if frame is None:
            data = api_data("query_range", resp.content)
            frame = matrix_to_frame(metric, _matrix(data))
        return frame


def parse_json(path: str, body: bytes) -> object:
    """A response body as JSON; a body that is not JSON (a proxy's HTML page) is a CollectorError."""
    try:
        return json.loads(body)
    except ValueError:  # JSONDecodeError and UnicodeDecodeError both are
        start = body[:80].decode("utf-8", "replace")
        raise CollectorError(
            f"Prometheus {path}: the answer is not JSON (it starts {start!r}); is the URL a "
            "Prometheus-compatible query endpoint?"
        ) from None


def api_data(path: str, body: bytes) -> object:
    """The `data` of a successful API answer; anything else is a one-line CollectorError."""
    return _data(path, parse_json(path, body))


def _kind(value: object) -> str:
    return "null" if value is None else type(value).__name__


def _data(path: str, body: object) -> object:
    if not isinstance(body, dict):
        raise CollectorError(f"Prometheus {path}: expected a JSON object, got {_kind(body)}")
    if body.get("status") != "success":
        raise CollectorError(f"Prometheus {path}: {body.get('errorType')}: {body.get('error')}")
    if "data" not in body:
        raise CollectorError(f"Prometheus {path}: a success answer without `data`")
    return body["data"]


def result_of(path: str, data: object) -> tuple[str, list]:
    """`data`'s resultType and result list, checked to be the API's shape."""
    if not isinstance(data, dict) or not isinstance(data.get("result"), list):
        raise CollectorError(
            f"Prometheus {path}: expected data with a result list, got {_kind(data)}"
        )
    return str(data.get("resultType")), data["result"]


def _matrix(data: object) -> list[dict]:
    kind, result = result_of("query_range", data)
    if kind != "matrix":
        raise CollectorError(f"expected a matrix, got {kind}")
    return result


def _instant(data: object) -> dict:
    """An instant query's data; vector items checked to hold labels and one [time, "value"]."""
    kind, result = result_of("query", data)
    if kind == "vector":
        for item in result:
            value = item.get("value") if isinstance(item, dict) else None
            if not (
                isinstance(item, dict)
                and _labels_ok(item.get("metric"))
                and isinstance(value, list)
                and len(value) == 2
                and _is_number(value[0])
                and isinstance(value[1], str)
            ):
                raise CollectorError(
                    f"Prometheus query: malformed vector sample {json.dumps(item)[:120]}"
                )
    elif kind == "matrix":
        matrix_to_frame("query", result)  # checks the shape
    return data  # type: ignore[return-value]  # result_of checked it is a dict


def _labels_ok(metric: object) -> bool:
    return isinstance(metric, dict) and all(isinstance(v, str) for v in metric.values())


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _error_text(resp: requests.Response) -> str:
    try:
        body = resp.json()
        return f"{body.get('errorType', '')}: {body.get('error', '')}"
    except ValueError:
        return resp.text


def _epoch(ts: datetime) -> str:
    return f"{ts.timestamp():.3f}"


_SAMPLES_SCHEMA: dict[str, pl.DataType | type[pl.DataType]] = {
    "metric": pl.String,
    "ts": pl.Datetime("us", "UTC"),
    "value": pl.Float64,
}


def matrix_to_frame(metric: str, result: list[dict]) -> pl.DataFrame:
    """A query_range matrix to a *sample frame* (costlab.collect.series): metric, ts, value, labels.

    Values arrive as strings ("1.5", "NaN", "+Inf") and are parsed to f64; NaN/inf are kept so the
    loader can quarantine them with a reason.
    """
    if not result:
        return pl.DataFrame(schema=_SAMPLES_SCHEMA)
    ts: list[float] = []
    values: list[str] = []
    counts = []
    for s in result:
        pairs = _series_values(metric, s)
        ts.extend(p[0] for p in pairs)
        values.extend(p[1] for p in pairs)
        counts.append(len(pairs))
    return _samples(
        metric,
        [s["metric"] for s in result],
        np.asarray(counts, dtype=np.int64),
        pl.Series(ts, dtype=pl.Float64),
        pl.Series(values, dtype=pl.String),
    )


def _series_values(metric: str, series: object) -> list:
    """One matrix series' [time, "value"] pairs, its shape checked (CollectorError if not)."""
    ok = isinstance(series, dict) and _labels_ok(series.get("metric"))
    pairs = series.get("values") if isinstance(series, dict) else None
    if ok and pairs is None and "histograms" in series:  # type: ignore[operator]
        return []  # only native-histogram samples: no float samples to read
    if not (
        ok
        and isinstance(pairs, list)
        and all(
            isinstance(p, list) and len(p) == 2 and _is_number(p[0]) and isinstance(p[1], str)
            for p in pairs
        )
    ):
        raise CollectorError(
            f"Prometheus answer for {metric}: malformed series {json.dumps(series)[:160]} "
            '(expected {"metric": {labels}, "values": [[time, "value"], ...]})'
        )
    return pairs


# The compact JSON Prometheus (and Thanos, Mimir, Cortex/AMP, which share its API code) writes:
# {"status":"success","data":{"resultType":"matrix","result":[{"metric":{...},"values":[[t,"v"],
# ...]},...]}...}. JSON strings cannot hold a bare `"`, so these separators only occur as syntax.
_MATRIX_PREFIX = '{"status":"success","data":{"resultType":"matrix","result":['
_SERIES = '{"metric":'
_VALUES = ',"values":[['


def matrix_bytes_to_frame(metric: str, body: bytes) -> pl.DataFrame | None:
    """A query_range response body to a sample frame without a Python object per sample.

    Each series' labels are parsed as JSON (one small object per series); its `values` text is
    split into times and values by polars string functions. Returns None when the body is not in
    the exact compact form above (errors, whitespace, histograms, other field order): the caller
    then parses it as JSON. The result equals
    `matrix_to_frame(metric, json.loads(body)["data"]["result"])` (tests/collect/
    test_prometheus_parse.py).
    """
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return None
    if not text.startswith(_MATRIX_PREFIX):
        return None
    parts = text[len(_MATRIX_PREFIX) :].split(_SERIES)
    if len(parts) == 1:
        return pl.DataFrame(schema=_SAMPLES_SCHEMA) if parts[0].startswith("]}") else None
    if parts[0]:
        return None
    labels, series = [], []
    for i, part in enumerate(parts[1:], start=1):
        a = part.find(_VALUES)
        b = part.find("]]", a)
        if a < 0 or b < 0:
            return None
        tail = part[b + 2 :]
        last = i == len(parts) - 1
        if (last and not tail.startswith("}]}")) or (not last and tail != "},"):
            return None
        labels.append(part[:a])
        series.append(part[a + len(_VALUES) : b])
    # `t1,"v1"],[t2,"v2"` -> `t1,v1,t2,v2` -> one flat list: even items times, odd ones values.
    flat = pl.DataFrame({"_s": series}).select(
        pl.col("_s")
        .str.strip_suffix('"')
        .str.replace_all('"],[', ",", literal=True)
        .str.replace_all(',"', ",", literal=True)
        .str.split(",")
    )
    items = flat["_s"].list.len().to_numpy()
    if (items % 2).any():
        return None
    counts = (items // 2).astype(np.int64)
    flat_items = flat["_s"].explode()
    ts = flat_items.gather_every(2).cast(pl.Float64, strict=False)
    values = flat_items.gather_every(2, offset=1)
    if ts.null_count() or values.str.contains(r'["\[\], ]').any():
        return None
    try:
        metrics = json.loads("[" + ",".join(labels) + "]")
    except ValueError:
        return None
    if not all(_labels_ok(m) for m in metrics):
        return None
    return _samples(metric, metrics, counts, ts, values)


# datetime's range, years 1..9999, in Unix seconds
_MIN_EPOCH_S = datetime(1, 1, 1, tzinfo=UTC).timestamp()
_MAX_EPOCH_S = datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC).timestamp()


def _samples(
    metric: str, metrics: list[dict], counts: np.ndarray, ts: pl.Series, values: pl.Series
) -> pl.DataFrame:
    """Sample frame from per-series labels, per-series sample counts and the flat samples."""
    outside = ts.is_null() | ts.is_nan() | (ts < _MIN_EPOCH_S) | (ts > _MAX_EPOCH_S)
    if outside.any():
        raise CollectorError(
            f"Prometheus answer for {metric}: sample time {ts.filter(outside)[0]} is not a Unix "
            "time between years 1 and 9999"
        )
    samples = pl.DataFrame(
        {
            "ts": (ts * 1000).round(0).cast(pl.Int64),
            "value": values.cast(pl.Float64, strict=False),
        }
    ).select(
        pl.from_epoch("ts", time_unit="ms").dt.replace_time_zone("UTC").dt.cast_time_unit("us"),
        "value",
    )
    rows = [{k: v for k, v in m.items() if k != "__name__"} for m in metrics]
    labels = pl.from_dicts(rows, infer_schema_length=None) if any(rows) else pl.DataFrame()
    if labels.width:
        sid = pl.Series("_sid", np.repeat(np.arange(len(metrics), dtype=np.int64), counts))
        samples = pl.concat([samples, labels.select(pl.all().gather(sid))], how="horizontal")
    return samples.with_columns(pl.lit(metric).alias("metric"))


def epoch_now() -> datetime:
    return datetime.now(UTC)
