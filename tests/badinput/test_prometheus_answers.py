"""Malformed Prometheus answers (not JSON, null, [], series without values, times outside any
date) are one-line CollectorErrors from every client call, never a traceback."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from costlab.collect.prometheus.client import PromClient, matrix_bytes_to_frame, matrix_to_frame
from costlab.errors import CollectorError

from .answer_server import AnswerServer
from .cli_run import one_line_error, run

pytestmark = pytest.mark.service  # a local HTTP server

T0, T1 = datetime(2026, 11, 1, tzinfo=UTC), datetime(2026, 11, 2, tzinfo=UTC)


def matrix(*series: object) -> bytes:
    body = {"status": "success", "data": {"resultType": "matrix", "result": list(series)}}
    return json.dumps(body, separators=(",", ":")).encode()


LABELS = {"__name__": "DCGM_FI_DEV_GPU_UTIL", "gpu": "0", "Hostname": "ip-10-0-1-7"}
BAD = {
    "not json": (b"<html>502 Bad Gateway</html>", "the answer is not JSON"),
    "not utf-8": (b"\xff\xfe\x00{", "the answer is not JSON"),
    "null": (b"null", "expected a JSON object, got null"),
    "list": (b"[]", "expected a JSON object, got list"),
    "no data": (b'{"status":"success"}', "a success answer without `data`"),
    "null data": (b'{"status":"success","data":null}', "got null"),
    "null result": (
        b'{"status":"success","data":{"resultType":"matrix","result":null}}',
        "got",
    ),
    "series without values": (matrix({"metric": LABELS}), "malformed series"),
    "series with null labels": (matrix({"metric": None, "values": [[1, "1"]]}), "malformed"),
    "value-less pair": (matrix({"metric": LABELS, "values": [[1.5e9]]}), "malformed series"),
    "time as text": (matrix({"metric": LABELS, "values": [["x", "1"]]}), "malformed series"),
    "time 1e300": (
        matrix({"metric": LABELS, "values": [[1e300, "1"]]}),
        "sample time 1e+300 is not a Unix time between years 1 and 9999",
    ),
    "time -1e18": (
        matrix({"metric": LABELS, "values": [[-1e18, "1"]]}),
        "sample time -1e+18 is not a Unix time between years 1 and 9999",
    ),
    "year 10000": (
        matrix({"metric": LABELS, "values": [[253402300800, "1"]]}),
        "is not a Unix time between years 1 and 9999",
    ),
}


@pytest.fixture(scope="module")
def server():
    srv = AnswerServer()
    yield srv
    srv.close()


@pytest.fixture
def client(server):
    c = PromClient(server.url, max_retries=0)
    yield c
    c.close()


CALLS = {
    "query_range_frame": lambda c: c.query_range_frame("m", "q", T0, T1, 60),
    "query_range": lambda c: c.query_range("q", T0, T1, 60),
}


@pytest.mark.parametrize("call", CALLS)
@pytest.mark.parametrize("case", BAD)
def test_malformed_range_answers_are_collector_errors(server, client, case, call):
    server.body, message = BAD[case]
    with pytest.raises(CollectorError) as err:
        CALLS[call](client)
    assert message in str(err.value)
    assert "\n" not in str(err.value)


@pytest.mark.parametrize("case", ["not json", "null", "list", "no data", "null data"])
def test_malformed_answers_to_other_calls(server, client, case):
    server.body, message = BAD[case]
    for call in (
        lambda: client.query("up", T1),
        lambda: client.series_count("up", T0, T1),
        lambda: client.label_names("up", T0, T1),
    ):
        with pytest.raises(CollectorError) as err:
            call()
        assert message in str(err.value)


@pytest.mark.parametrize(
    "body",
    [
        b'{"status":"success","data":{"resultType":"vector","result":[{"metric":{}}]}}',
        b'{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1]}]}}',
        b'{"status":"success","data":{"resultType":"vector","result":[7]}}',
    ],
)
def test_malformed_instant_vectors(server, client, body):
    server.body = body
    with pytest.raises(CollectorError, match="malformed vector sample"):
        client.query("up", T1)


def test_series_and_labels_of_the_wrong_type(server, client):
    server.body = b'{"status":"success","data":{"a":1}}'
    with pytest.raises(CollectorError, match="expected a list of series, got dict"):
        client.series_count("up", T0, T1)
    server.body = b'{"status":"success","data":[1,2]}'
    with pytest.raises(CollectorError, match="expected a list of label names, got list"):
        client.label_names("up", T0, T1)


def test_well_formed_edge_answers_still_parse(server, client):
    server.body = matrix(
        {"metric": LABELS, "values": []},
        {"metric": LABELS, "histograms": [[1.7e9, {"count": "1", "sum": "1"}]]},
        {"metric": {**LABELS, "gpu": "1"}, "values": [[1762000000, "42"]]},
    )
    frame = client.query_range_frame("DCGM_FI_DEV_GPU_UTIL", "q", T0, T1, 60)
    assert frame.select("gpu", "value").rows() == [("1", 42.0)]
    assert frame["ts"][0] == datetime(2025, 11, 1, 12, 26, 40, tzinfo=UTC)


def test_the_fast_parser_defers_to_the_checked_one():
    # Bodies the compact-form parser cannot take are handed to matrix_to_frame (None), which
    # then reports the problem.
    assert matrix_bytes_to_frame("m", b"\xff\xfe") is None
    assert matrix_bytes_to_frame("m", matrix({"metric": None, "values": [[1, "1"]]})) is None
    with pytest.raises(CollectorError, match="malformed series"):
        matrix_to_frame("m", [{"metric": None, "values": [[1, "1"]]}])


@pytest.mark.parametrize("case", ["not json", "null", "series without values", "time 1e300"])
def test_cli_collect_prometheus_is_one_line(capsys, tmp_path, server, case):
    server.body = BAD[case][0]
    result = run(
        capsys,
        "--db",
        str(tmp_path / "c.duckdb"),
        "collect",
        "prometheus",
        "--url",
        server.url,
        "--start",
        "2026-11-01",
        "--end",
        "2026-11-01T01:00",
    )
    line = one_line_error(result, 1)
    assert "Prometheus" in line
