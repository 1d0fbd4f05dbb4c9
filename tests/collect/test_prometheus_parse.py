"""The response parser that skips per-sample Python objects gives what JSON parsing gives."""

from __future__ import annotations

import json

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from costlab.collect.prometheus.client import matrix_bytes_to_frame, matrix_to_frame


def body(result: list[dict], extra: str = "") -> bytes:
    payload = {"status": "success", "data": {"resultType": "matrix", "result": result}}
    text = json.dumps(payload, separators=(",", ":"), ensure_ascii=False)
    return (text[:-1] + extra + "}").encode() if extra else text.encode()


def series(i: int, points: int, **labels: str) -> dict:
    values = [
        [1_790_812_800 + 15 * k + (0.5 if k % 7 == 3 else 0), f"{k * i % 97}"]
        for k in range(points)
    ]
    return {
        "metric": {"__name__": "DCGM_FI_DEV_GPU_UTIL", "UUID": f"GPU-{i}", **labels},
        "values": values,
    }


def both(raw: bytes) -> tuple[pl.DataFrame | None, pl.DataFrame]:
    return matrix_bytes_to_frame("m", raw), matrix_to_frame("m", json.loads(raw)["data"]["result"])


def test_fast_parse_equals_json_parse():
    result = [series(i, 1 + i % 5) for i in range(150)]
    # Labels only on late series (beyond any schema inference window), escapes, unicode.
    result[140]["metric"] |= {"pod": 'we"ird\\pod', "namespace": "ünï,[x]"}
    result[149]["metric"] |= {"GPU_I_ID": "3", "GPU_I_PROFILE": "1g.10gb"}
    result[2]["values"] = [[1_790_812_800, "NaN"], [1_790_812_815, "+Inf"], [1_790_812_830, "-Inf"]]
    result[3]["values"] = [[1_790_812_800, "1e-05"], [1_790_812_815.25, "-0.5"]]
    fast, slow = both(body(result))
    assert fast is not None
    assert fast.equals(slow) and fast.schema == slow.schema
    assert fast.height == sum(len(s["values"]) for s in result)
    assert fast.filter(pl.col("UUID") == "GPU-140")["pod"].to_list() == ['we"ird\\pod']


def test_empty_result_and_trailing_fields():
    fast, slow = both(body([]))
    assert fast is not None and fast.equals(slow)
    fast, slow = both(body([series(1, 3)], extra=',"warnings":["partial"]'))
    assert fast is not None and fast.equals(slow)


@pytest.mark.parametrize(
    "raw",
    [
        json.dumps(
            {"status": "success", "data": {"resultType": "matrix", "result": [series(1, 2)]}}
        ),
        '{"status":"error","errorType":"bad_data","error":"x"}',
        '{"status":"success","data":{"resultType":"matrix","result":[{"metric":{},'
        '"histograms":[[1,{"count":"1"}]]}]}}',
        '{"status":"success","data":{"resultType":"matrix","result":[{"metric":{},'
        '"values":[[1, "2"]]}]}}',
        '{"status":"success","data":{"resultType":"matrix","result":[{"metric":{},'
        '"values":[[1,"2"]],"histograms":[]}]}}',
    ],
)
def test_other_shapes_fall_back_to_json(raw):
    assert matrix_bytes_to_frame("m", raw.encode()) is None


_TRICKY = st.sampled_from(['{"metric":', ',"values":[[', "]]", '"],["', "},", "\\", '"', "\u2028"])
_LABEL = st.lists(st.one_of(st.text(max_size=6), _TRICKY), max_size=4).map("".join)


@settings(max_examples=200, deadline=None)
@given(
    labels=st.lists(
        st.dictionaries(st.sampled_from(["pod", "namespace", "UUID", "x"]), _LABEL, max_size=3),
        min_size=1,
        max_size=6,
    ),
    points=st.lists(st.integers(0, 4), min_size=6, max_size=6),
)
def test_any_label_text_parses_as_json_does(labels, points):
    """Label values holding the parser's own separators, quotes or backslashes either parse
    exactly as JSON parsing does or fall back to it; never a different frame."""
    result = [
        {
            "metric": {"__name__": "m", **m},
            "values": [[1_790_812_800 + 15 * k, f"{k}.5"] for k in range(n)],
        }
        for m, n in zip(labels, points, strict=False)
    ]
    fast, slow = both(body(result))
    if fast is not None:
        assert fast.equals(slow) and fast.schema == slow.schema
