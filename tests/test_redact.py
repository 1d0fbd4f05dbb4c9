"""costlab.redact: credentials masked in URLs and in any text quoting one; everything else intact."""

from __future__ import annotations

import logging
from urllib.parse import parse_qsl, quote, urlsplit

import pytest
from hypothesis import given
from hypothesis import strategies as st

from costlab.collect import sink
from costlab.redact import MASK, SECRET_PARAMS, RedactingFilter, redact_text, redact_url


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("http://user:SECRETPW@127.0.0.1:9090", "http://user:***@127.0.0.1:9090"),
        ("https://ghp_TOKEN@example.com/x", "https://***@example.com/x"),
        ("http://u:p%40ss@h/api/v1?x=1", "http://u:***@h/api/v1?x=1"),
        ("http://u:p@ss@h/", "http://u:***@h/"),  # a raw '@' in the password: the last '@' wins
        ("http://u:ab/cd+e@prom:9090/", "http://u:***@prom:9090/"),  # a raw '/' (base64)
        ("http://h/?token=SECRET&step=15", "http://h/?token=***&step=15"),
        ("http://h/?Access_Token=SECRET", "http://h/?Access_Token=***"),
        (
            # a presigned S3 URL: the signature, the key id and the session token
            "https://b.s3.amazonaws.com/k?X-Amz-Algorithm=AWS4-HMAC-SHA256"
            "&X-Amz-Credential=AKIAEXAMPLE%2F20260101%2Fus-east-1%2Fs3%2Faws4_request"
            "&X-Amz-Security-Token=FwoSESSION&X-Amz-Signature=abc123",
            "https://b.s3.amazonaws.com/k?X-Amz-Algorithm=AWS4-HMAC-SHA256"
            "&X-Amz-Credential=***&X-Amz-Security-Token=***&X-Amz-Signature=***",
        ),
        (
            "https://app.example.com/cb#access_token=SECRET&state=1",
            "https://app.example.com/cb#access_token=***&state=1",
        ),
        # no secret: exactly the input, encodings and all
        ("http://prometheus:9090/api/v1/query?query=up%7Bjob%3D%22x%22%7D", None),
        ("http://h:8080/path/@scope/pkg", None),
        ("http://[::1]:9090/", None),
        ("not a url", None),
    ],
)
def test_redact_url(url, expected):
    assert redact_url(url) == (url if expected is None else expected)


def test_redact_text_finds_urls_and_bare_queries():
    # requests quotes only the path and query of the failed request
    text = (
        "ConnectionError: HTTPConnectionPool(host='127.0.0.1', port=1): Max retries exceeded "
        "with url: /api/v1/query?api_key=SECRET1&x=1 (Caused by NewConnectionError(...)); "
        "see 'http://admin:SECRET2@prom:9090/graph' or <https://SECRET3@h/>"
    )
    out = redact_text(text)
    assert not any(s in out for s in ("SECRET1", "SECRET2", "SECRET3"))
    assert "url: /api/v1/query?api_key=***&x=1 (Caused by" in out
    assert "'http://admin:***@prom:9090/graph'" in out and "<https://***@h/>" in out


_WORD = st.text(st.sampled_from("abcdefghijklmnopqrstuvwxyz0123456789-"), min_size=1, max_size=12)
_HOST = st.one_of(
    st.builds(".".join, st.lists(_WORD, min_size=1, max_size=3)),
    st.just("127.0.0.1"),
    st.just("[::1]"),
)
_PORT = st.one_of(st.just(""), st.integers(1, 65535).map(lambda p: f":{p}"))
_PATH = st.builds("".join, st.lists(_WORD.map(lambda w: "/" + w), max_size=3))
_PARAMS = st.lists(st.tuples(_WORD, _WORD), max_size=3).filter(
    lambda ps: all(k.lower() not in SECRET_PARAMS for k, _ in ps)
)


def _query(params: list[tuple[str, str]]) -> str:
    return "?" + "&".join(f"{k}={v}" for k, v in params) if params else ""


@given(
    scheme=st.sampled_from(["http", "https", "s3"]),
    user=st.text(min_size=1),
    password=st.text(min_size=1),
    host=_HOST,
    port=_PORT,
    path=_PATH,
    params=_PARAMS,
    token=st.text(min_size=1),
    name=st.sampled_from(sorted(SECRET_PARAMS)),
)
def test_no_password_or_token_survives(
    scheme, user, password, host, port, path, params, token, name
):
    user_q, password_q, token_q = quote(user, safe=""), quote(password, safe=""), quote(token)
    query = _query([*params, (name, token_q)])
    url = f"{scheme}://{user_q}:{password_q}@{host}{port}{path}{query}"
    out = redact_url(url)
    parts = urlsplit(out)
    assert parts.password == MASK and parts.username == user_q
    assert (parts.hostname or "") in host and parts.path == path
    assert dict(parse_qsl(parts.query))[name] == MASK
    for text in (out, redact_text(f"error: cannot reach {url} (refused)")):
        assert f":{password_q}@" not in text
        assert f"{name}={token_q}" not in text


@given(
    scheme=st.sampled_from(["http", "https"]), host=_HOST, port=_PORT, path=_PATH, params=_PARAMS
)
def test_urls_without_secrets_are_unchanged(scheme, host, port, path, params):
    url = f"{scheme}://{host}{port}{path}{_query(params)}"
    assert redact_url(url) == url
    text = f"HTTP 502 from {url} after 3 attempts"
    assert redact_text(text) == text


def test_a_failed_run_stores_its_message_masked(fresh_db):
    with (
        pytest.raises(RuntimeError),
        sink.collection_run(fresh_db, "prometheus"),
    ):
        raise RuntimeError("cannot reach http://user:SECRETPW@127.0.0.1:1/?token=SECRETTOKEN")
    assert fresh_db.execute("SELECT status, message FROM collection_runs").fetchall() == [
        ("failed", "RuntimeError: cannot reach http://user:***@127.0.0.1:1/?token=***")
    ]


def test_the_log_filter_masks_messages_arguments_and_tracebacks(caplog):
    # the logger's own level too: the CLI raises urllib3's to ERROR (its retries are counted)
    caplog.set_level(logging.DEBUG, logger="urllib3.connectionpool")
    caplog.handler.addFilter(RedactingFilter())
    log = logging.getLogger("urllib3.connectionpool")
    try:
        log.debug('%s "%s %s HTTP/1.1" 200', "h:1", "POST", "/api/v1/query?token=SECRETTOKEN")
        try:
            raise ValueError("http://user:SECRETPW@h/")
        except ValueError:
            log.exception("failed")
    finally:
        caplog.handler.filters.clear()
    assert "SECRET" not in caplog.text
    assert "/api/v1/query?token=***" in caplog.text and "http://user:***@h/" in caplog.text


def test_an_unexpected_traceback_is_masked(capsys):
    from costlab.cli import _redacted_excepthook

    try:
        raise OSError("cannot open s3://AKIAEXAMPLE:SECRETKEY@bucket/prefix?session_token=TOKEN")
    except OSError as exc:
        _redacted_excepthook(OSError, exc, exc.__traceback__)
    err = capsys.readouterr().err
    assert "Traceback" in err and "s3://AKIAEXAMPLE:***@bucket/prefix?session_token=***" in err
    assert "SECRETKEY" not in err and "TOKEN" not in err
