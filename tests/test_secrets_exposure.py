"""A password or token in a collector's URL reaches no output: not stdout, stderr, the log, nor any
text column of the database, when the source cannot be reached (issue #14)."""

from __future__ import annotations

import logging
import socket
import sys

import duckdb
import pytest

from costlab import store
from costlab.cli import main

SECRET = "SECRETPW"


def closed_port() -> int:
    """A port on 127.0.0.1 nothing listens on (bound once by us, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def urls() -> list[str]:
    port = closed_port()
    return [
        f"http://user:{SECRET}@127.0.0.1:{port}",
        f"http://127.0.0.1:{port}/?token={SECRET}",
        f"http://{SECRET}@127.0.0.1:{port}/?api_key={SECRET}&X-Amz-Signature={SECRET}",
    ]


def text_columns(db) -> dict[str, list[str]]:
    """Every VARCHAR value of every table, by `table.column`."""
    conn = duckdb.connect(str(db), read_only=True)
    try:
        columns = conn.execute(
            "SELECT table_name, column_name FROM information_schema.columns "
            "WHERE data_type = 'VARCHAR' AND table_schema = 'main'"
        ).fetchall()
        return {
            f"{t}.{c}": [
                v for (v,) in conn.execute(f'SELECT "{c}" FROM "{t}"').fetchall() if v is not None
            ]
            for t, c in columns
        }
    finally:
        conn.close()


def run_cli(args: list[str], monkeypatch) -> int:
    monkeypatch.setattr(sys, "excepthook", sys.excepthook)  # main() installs its own
    with pytest.raises(SystemExit) as info:
        main(args)
    return int(info.value.code or 0)


@pytest.fixture
def quick(monkeypatch):
    for name in ("COSTLAB_PROM_MAX_RETRIES", "COSTLAB_LANGFUSE_MAX_RETRIES"):
        monkeypatch.setenv(name, "0")
    monkeypatch.setenv("COSTLAB_PROM_TIMEOUT_S", "5")
    monkeypatch.setenv("COSTLAB_LANGFUSE_TIMEOUT_S", "5")
    monkeypatch.setenv("LANGFUSE_PUBLIC_KEY", "pk-lf-test")
    monkeypatch.setenv("LANGFUSE_SECRET_KEY", "sk-lf-test")
    monkeypatch.delenv("COSTLAB_CONFIG", raising=False)
    # credentials in headers too: sent with every request, shown nowhere
    monkeypatch.setenv("COSTLAB_PROM_BEARER_TOKEN", SECRET)
    monkeypatch.setenv("COSTLAB_PROM_HEADERS", f'{{"X-Scope-OrgID": "{SECRET}"}}')
    monkeypatch.setenv("COSTLAB_PROM_QUERY_PARAMS", f'{{"token": "{SECRET}"}}')


@pytest.mark.parametrize("url", urls(), ids=["userinfo", "token", "all"])
@pytest.mark.parametrize("source", ["langfuse", "prometheus", "doctor"])
def test_a_secret_in_the_url_is_nowhere(tmp_path, monkeypatch, capsys, caplog, quick, source, url):
    monkeypatch.chdir(tmp_path)  # no costlab.toml of the caller's
    caplog.set_level(logging.DEBUG)
    db = tmp_path / "c.duckdb"
    store.connect(db).close()
    command = {
        "langfuse": ["collect", "langfuse", "--host", url],
        "prometheus": ["collect", "prometheus", "--url", url],
        "doctor": ["doctor", "--url", url],
    }[source]
    code = run_cli(["-v", "--db", str(db), *command], monkeypatch)
    out, err = capsys.readouterr()
    assert code == 1, err
    assert "error:" in err and "127.0.0.1" in err
    assert SECRET not in out + err + caplog.text
    stored = text_columns(db)
    assert not [(col, v) for col, values in stored.items() for v in values if SECRET in v]
    if source == "langfuse":  # the failed run is booked, with the masked reason
        (message,) = stored["collection_runs.message"]
        assert "cannot reach LangFuse at http://" in message and "***" in message


@pytest.mark.parametrize(
    "headers",
    [f'{{"Authorization": ["Bearer {SECRET}"]}}', f'{{"X-Scope-OrgID": {{"a": "{SECRET}"}}}}'],
)
def test_a_bad_header_value_is_named_but_not_shown(tmp_path, monkeypatch, capsys, headers):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("COSTLAB_CONFIG", raising=False)
    monkeypatch.setenv("COSTLAB_PROM_HEADERS", headers)
    code = run_cli(["doctor", "--url", "http://127.0.0.1:1"], monkeypatch)
    err = capsys.readouterr().err
    assert code == 2 and "COSTLAB_PROM_HEADERS" in err and "<hidden>" in err
    assert SECRET not in err


def test_urllib3_retry_warnings_reach_stderr_masked(tmp_path):
    """Out of process, as a user runs it: the root handler's filter masks urllib3's own lines."""
    import os
    import subprocess

    db = tmp_path / "c.duckdb"
    store.connect(db).close()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("COSTLAB_", "LANGFUSE_"))}
    env |= {"COSTLAB_PROM_MAX_RETRIES": "1", "COSTLAB_PROM_BACKOFF_S": "0"}
    url = f"http://127.0.0.1:{closed_port()}/?token={SECRET}"
    result = subprocess.run(
        [sys.executable, "-m", "costlab.cli", "-v", "--db", str(db)]
        + ["collect", "prometheus", "--url", url],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=120,
    )
    assert result.returncode == 1, result.stderr
    assert "Retrying" in result.stderr and "?token=***" in result.stderr
    assert SECRET not in result.stdout + result.stderr
