"""Transport against a real Prometheus behind a proxy that plays other backends: their "query too
large" answers (the range is split and asked again) and `Retry-After` on 429 (honoured)."""

from __future__ import annotations

import time

import pytest
from prom_fleet import T0, at
from prom_server import Proxy
from prom_snapshot import settings, snapshot

from costlab import store
from costlab.collect.prometheus import DCGM, collect
from costlab.errors import CollectorError
from costlab.timeutil import Window

pytestmark = pytest.mark.service

FULL = Window(T0, at(480))

# Each backend's own words (see TOO_LARGE in costlab/collect/prometheus/client.py for sources).
VM_POINTS = (
    'error when executing query="..." on the time range (start=1793491200000, '
    "end=1793498385000, step=15000): too many points for the given step=15000, "
    "start=1793491200000 and end=1793498385000: {points}; cannot exceed "
    "-search.maxPointsPerTimeseries={limit}"
)
VM_SAMPLES = (
    "cannot select more than -search.maxSamplesPerQuery={limit} samples; possible solutions: "
    "increase the -search.maxSamplesPerQuery; reduce time range for the query; use more specific "
    "label filters in order to select fewer series"
)
MIMIR_CHUNKS = "the query hit the max number of chunks limit (limit: {limit} chunks)"
THANOS_SERIES = (
    "expanding series: proxy Series(): rpc error: code = Code(422) desc = exceeded chunks limit: "
    "limit {limit} violated (got {points})"
)


def dcgm_snapshot(url: str, window: Window) -> dict[str, list[tuple]]:
    """The DCGM group collected straight from Prometheus: the reference."""
    conn = store.connect(":memory:")
    try:
        collect(conn, window=window, settings=settings(url), groups=(DCGM,))
        return snapshot(conn)
    finally:
        conn.close()


@pytest.fixture(scope="module")
def dcgm_load(fleet_prometheus) -> dict[str, list[tuple]]:
    return dcgm_snapshot(fleet_prometheus.url, FULL)


@pytest.mark.parametrize(
    "too_large",
    [(422, VM_POINTS), (422, VM_SAMPLES), (422, MIMIR_CHUNKS), (422, THANOS_SERIES)],
    ids=["victoriametrics-points", "victoriametrics-samples", "mimir-chunks", "thanos-chunks"],
)
def test_too_large_answers_split_the_range(fleet_prometheus, fresh_db, dcgm_load, too_large):
    # One chunk of 480 points is planned; the backend takes at most 100 per query.
    with Proxy(fleet_prometheus.url, max_points=100, too_large=too_large) as proxy:
        collect(fresh_db, window=FULL, settings=settings(proxy.url), groups=(DCGM,))
    # Each of the 6 DCGM queries: 480 points refused, 2 x 240 refused, 4 x 120 refused, 8 x 60.
    # Forwarded besides: per query one scrape-interval probe and one /series count.
    assert proxy.refused == 6 * 7 and proxy.forwarded == 6 * 8 + 6 + 6
    assert snapshot(fresh_db) == dcgm_load


def test_a_refusal_for_a_single_point_fails_clearly(fleet_prometheus, fresh_db):
    with Proxy(fleet_prometheus.url, max_points=0, too_large=(422, VM_POINTS)) as proxy:
        with pytest.raises(CollectorError, match="maxPointsPerTimeseries"):
            collect(fresh_db, window=FULL, settings=settings(proxy.url), groups=(DCGM,))
    # Halved down to one step, then given up: about log2(480) queries per metric, not 480.
    assert proxy.refused <= 12


def test_retry_after_is_honoured(fleet_prometheus, fresh_db):
    # The first request is refused with Retry-After: 1; the backoff alone would wait 10 ms.
    window = Window(T0, at(40))
    with Proxy(fleet_prometheus.url, retry_after=["1"]) as proxy:
        report = collect(fresh_db, window=window, settings=settings(proxy.url), groups=(DCGM,))
    assert report.retries == 1
    # The refused request came again a second later (other requests ran meanwhile).
    again = proxy.requests.index(proxy.requests[0], 1)
    assert proxy.arrivals[again] - proxy.arrivals[0] >= 0.95
    assert snapshot(fresh_db) == dcgm_snapshot(fleet_prometheus.url, window)


def test_retry_after_is_capped(fleet_prometheus, fresh_db):
    # A server asking for an hour waits max_retry_after_s instead (here 0): no hang.
    start = time.monotonic()
    with Proxy(fleet_prometheus.url, retry_after=["3600", "3600"]) as proxy:
        s = settings(proxy.url, max_retry_after_s=0)
        report = collect(fresh_db, window=Window(T0, at(40)), settings=s, groups=(DCGM,))
    assert report.retries == 2 and time.monotonic() - start < 30


def test_429_forever_fails_with_the_status(fleet_prometheus):
    conn = store.connect(":memory:")
    try:
        with Proxy(fleet_prometheus.url, retry_after=["0"] * 10) as proxy:
            with pytest.raises(CollectorError, match="still failing after 3 attempts: HTTP 429"):
                s = settings(proxy.url, max_retries=2, max_concurrency=1)
                collect(conn, window=Window(T0, at(40)), settings=s, groups=(DCGM,))
        assert len(proxy.requests) == 3
    finally:
        conn.close()
