"""Random JSON shapes from a local HTTP server standing in for Prometheus' /api/v1/query_range,
/api/v1/query, /api/v1/series and /api/v1/labels: each client call returns a well-typed result
or raises a one-line CollectorError."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import polars as pl
import pytest
from badinput.answer_server import AnswerServer
from hypothesis import given
from hypothesis import strategies as st

from costlab.collect.prometheus.client import PromClient
from costlab.errors import CollectorError

from .conftest import fuzz_settings

pytestmark = pytest.mark.service  # a local HTTP server

T0, T1 = datetime(2026, 11, 1, tzinfo=UTC), datetime(2026, 11, 2, tzinfo=UTC)

anything = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats() | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=12,
)
stamps = st.one_of(st.floats(), st.integers(-(2**64), 2**64), st.text(max_size=4), st.none())
samples = st.one_of(
    st.tuples(stamps, st.one_of(st.sampled_from(["1", "NaN", "+Inf", "-0", "x"]), anything)).map(
        list
    ),
    anything,
)
labels = st.one_of(
    st.dictionaries(
        st.sampled_from(["__name__", "gpu", "UUID", "Hostname", "modelName", "pod", "namespace"]),
        st.one_of(st.text(max_size=6), anything),
        max_size=4,
    ),
    anything,
)
series = st.one_of(
    st.fixed_dictionaries({"metric": labels, "values": st.lists(samples, max_size=4)}),
    st.fixed_dictionaries({"metric": labels, "value": samples}),
    st.fixed_dictionaries({"metric": labels}),
    anything,
)
data = st.one_of(
    st.fixed_dictionaries(
        {
            "resultType": st.sampled_from(["matrix", "vector", "scalar", "string", "x"]),
            "result": st.one_of(st.lists(series, max_size=3), anything),
        }
    ),
    st.lists(st.text(max_size=6), max_size=3),
    anything,
)
bodies = st.one_of(
    st.fixed_dictionaries(
        {"status": st.sampled_from(["success", "error", "", None]), "data": data}
    ).map(lambda b: json.dumps(b, separators=(",", ":")).encode()),
    anything.map(lambda b: json.dumps(b).encode()),
    st.binary(max_size=64),
)


@pytest.fixture(scope="module")
def client():
    server = AnswerServer()
    c = PromClient(server.url, max_retries=0, timeout_s=10)
    yield server, c
    c.close()
    server.close()


def test_random_answers(client):
    server, c = client

    @fuzz_settings(300)
    @given(bodies)
    def run(body):
        server.body = body
        calls = {
            "frame": lambda: c.query_range_frame("DCGM_FI_DEV_GPU_UTIL", "q", T0, T1, 60),
            "range": lambda: c.query_range("q", T0, T1, 60),
            "query": lambda: c.query("q", T1),
            "series": lambda: c.series_count("q", T0, T1),
            "labels": lambda: c.label_names("q", T0, T1),
        }
        for name, call in calls.items():
            try:
                result = call()
            except CollectorError as exc:
                assert "\n" not in str(exc), name
                continue
            expected = {
                "frame": pl.DataFrame,
                "range": list,
                "query": dict,
                "series": int,
                "labels": list,
            }[name]
            assert isinstance(result, expected), (name, result)

    run()
