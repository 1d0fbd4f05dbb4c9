"""LangFuse collector against a spec-validated fake LangFuse on 127.0.0.1, through the official
client, fed with a slice of the real Azure LLM inference trace (see lf_data.py)."""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal

import pytest
from lf_data import build, expected_tenant, generation, iso, root
from lf_server import FakeLangfuse, Fault
from pydantic import ValidationError

from costlab.collect import sink
from costlab.collect.langfuse import collector as lf
from costlab.collect.langfuse.settings import LangfuseSettings
from costlab.errors import CollectorError, UsageError
from costlab.timeutil import Window

T0 = datetime(2023, 11, 16, 18, 0, tzinfo=UTC)  # the slice runs 18:17:03 .. 18:35:10


@pytest.fixture
def server():
    observations, _ = build()
    srv = FakeLangfuse(observations=observations).start()
    yield srv
    srv.stop()


def settings_for(srv: FakeLangfuse, **overrides) -> LangfuseSettings:
    base = dict(
        host=srv.url,
        public_key=srv.public_key,
        secret_key=srv.secret_key,
        page_size=7,
        initial_start=T0,
        chunk=timedelta(minutes=10),
        lookback=timedelta(minutes=10),
        max_retries=2,
    )
    return LangfuseSettings(**(base | overrides))


def at(hh: int, mm: int):
    return lambda: datetime(2023, 11, 16, hh, mm, tzinfo=UTC)


def table(conn) -> list[tuple]:
    return conn.execute("SELECT * FROM llm_observations ORDER BY observation_id").fetchall()


def cost_micros(ctx: int, gen: int) -> int:
    exact = Decimal(ctx) * Decimal("0.5") + Decimal(gen) * Decimal("1.5")
    return int(exact.quantize(Decimal(1), rounding=ROUND_HALF_EVEN))


@pytest.mark.service
def test_loads_the_trace_slice_with_tokens_tenants_cost_and_pagination(fresh_db, server):
    _, rows = build()
    report = lf.collect(fresh_db, settings=settings_for(server), now=at(19, 0))

    assert server.errors == []  # every request and response matched the OpenAPI spec
    assert (report.observations, report.loaded, report.quarantined, report.chunks) == (60, 60, 0, 6)
    got = {
        r[0]: r
        for r in fresh_db.execute(
            "SELECT observation_id, trace_id, tenant, deployment, model, input_tokens, "
            "output_tokens, total_tokens, latency_ms, langfuse_cost_usd_micros, start_ts, user_id, "
            "session_id FROM llm_observations"
        ).fetchall()
    }
    assert len(got) == 60
    for i, (start, ctx, gen) in enumerate(rows):
        r = got[f"gen-{i:04d}"]
        assert r[1] == f"trace-{i:04d}"
        assert r[2] == expected_tenant(i)
        assert r[3] == ("vllm-llama-70b" if i % 2 == 0 else None)
        assert r[4] == ("llama-3-70b" if i % 5 != 4 else "in-house-ft")
        assert (r[5], r[6], r[7]) == (ctx, gen, ctx + gen)  # cached prompt tokens count as input
        assert r[8] == pytest.approx((0.25 + 0.03 * gen) * 1000)
        assert r[9] == (cost_micros(ctx, gen) if i % 5 != 4 else None)
        assert r[10] == start
        assert r[12] == f"sess-{i // 3:04d}"
    # Hand-checked first request of the Azure code trace: 4808 prompt + 10 generated tokens at
    # $0.50 / $1.50 per 1M tokens = 2404 + 15 = 2419 micro-dollars.
    assert got["gen-0000"][5:8] == (4808, 10, 4818) and got["gen-0000"][9] == 2419
    assert sum(r[5] for r in got.values()) == sum(c for _, c, _ in rows) == 119_163
    assert sum(r[6] for r in got.values()) == sum(g for _, _, g in rows)

    gen_requests = [q for q in server.requests if q.get("type") == ["GENERATION"]]
    assert all(q["limit"] == ["7"] for q in gen_requests)
    # 60 generations spread over six 10-minute chunks; 7 per page, follow-up pages carry a cursor
    assert sum(1 for q in gen_requests if "cursor" in q) == sum(1 for q in gen_requests) - 6
    assert sink.get_watermark(fresh_db, "langfuse", "generations") == datetime(
        2023, 11, 16, 19, 0, tzinfo=UTC
    )
    assert fresh_db.execute("SELECT status, rows_loaded FROM collection_runs").fetchall() == [
        ("ok", 60)
    ]


@pytest.mark.service
def test_the_fake_server_really_validates_against_the_spec(fresh_db, server):
    broken = dict(server.observations[1])
    broken["id"], broken["usageDetails"] = "gen-bad", {"input": "many"}  # spec: integer values
    server.observations.append(broken)
    with pytest.raises(CollectorError, match="do not match the API"):
        lf.collect(fresh_db, settings=settings_for(server), now=at(19, 0))
    assert server.errors and "response 200" in server.errors[0]


@pytest.mark.service
def test_429_with_retry_after_is_waited_out(fresh_db, server):
    server.faults = [Fault(429, "1")]
    began = time.monotonic()
    report = lf.collect(fresh_db, settings=settings_for(server), now=at(19, 0))
    assert time.monotonic() - began >= 1.0
    assert server.statuses[:2] == [429, 200]
    assert report.loaded == 60 and server.errors == []


@pytest.mark.service
def test_429_after_all_retries_fails_cleanly_and_keeps_the_watermark(fresh_db, server):
    server.faults = [Fault(429, "1")] * 2
    with pytest.raises(CollectorError, match="HTTP 429 rate limited"):
        lf.collect(fresh_db, settings=settings_for(server, max_retries=1), now=at(19, 0))
    assert server.statuses == [429, 429]
    assert sink.get_watermark(fresh_db, "langfuse", "generations") is None
    assert fresh_db.execute("SELECT status FROM collection_runs").fetchall() == [("failed",)]
    assert table(fresh_db) == []


@pytest.mark.service
def test_late_updated_and_new_observations(fresh_db, server):
    _, rows = build()
    settings = settings_for(server)
    first = lf.collect(fresh_db, settings=settings, now=at(18, 30))
    assert first.loaded == 40  # generations that started before 18:30
    assert sink.get_watermark(fresh_db, "langfuse", "generations") == datetime(
        2023, 11, 16, 18, 30, tzinfo=UTC
    )

    # Late: started 18:25 (inside the 10-minute lookback), arrives after the 18:30 run.
    late = T0 + timedelta(minutes=25)
    # Too late: started 18:05, outside the lookback; only a backfill finds it.
    too_late = T0 + timedelta(minutes=5)
    # Its root started 2 h before (beyond trace_slack): found by a per-trace lookup.
    old_root_start = T0 + timedelta(minutes=27)
    server.observations += [
        root(900, late),
        generation(900, late, 1000, 100),
        root(901, too_late),
        generation(901, too_late, 2000, 200),
        root(904, old_root_start - timedelta(hours=2)),
        generation(904, old_root_start, 40, 4),
    ]
    # Updated: gen-0005 (18:20:27, inside the lookback) finished later with more output tokens.
    updated = next(o for o in server.observations if o["id"] == "gen-0005")
    updated |= {
        "usageDetails": {"input": 847, "output": 500, "total": 1347},
        "totalCost": 0.0018345,
        "endTime": iso(rows[5][0] + timedelta(seconds=16)),
        "latency": 16.0,
    }

    second = lf.collect(fresh_db, settings=settings, now=at(19, 0))
    assert second.window == Window(
        T0 + timedelta(minutes=20), datetime(2023, 11, 16, 19, 0, tzinfo=UTC)
    )
    assert second.trace_lookups == 1
    ids = {r[0] for r in table(fresh_db)}
    assert "gen-0900" in ids and "gen-0904" in ids and "gen-0901" not in ids
    assert len(ids) == 60 + 2
    row = fresh_db.execute(
        "SELECT output_tokens, total_tokens, latency_ms, langfuse_cost_usd_micros "
        "FROM llm_observations "
        "WHERE observation_id = 'gen-0005'"
    ).fetchall()
    assert row == [
        (500, 1347, 16000.0, 1834)
    ]  # $0.0018345 = 1834.5 micro-dollars, half-even -> 1834
    tenant_904 = fresh_db.execute(
        "SELECT tenant FROM llm_observations WHERE observation_id = 'gen-0904'"
    ).fetchall()
    assert tenant_904 == [("search",)]  # 904 % 4 == 0: tenant from the (old) root's metadata

    # Backfill of a fixed window finds the too-late one and leaves the watermark where it was.
    backfill = lf.collect(
        fresh_db, settings=settings, window=Window(T0, T0 + timedelta(minutes=10))
    )
    assert not backfill.stateful and backfill.loaded == 1
    assert sink.get_watermark(fresh_db, "langfuse", "generations") == datetime(
        2023, 11, 16, 19, 0, tzinfo=UTC
    )
    assert len(table(fresh_db)) == 60 + 3


@pytest.mark.service
def test_collecting_twice_is_the_same_as_once(fresh_db, server):
    settings = settings_for(server, lookback=timedelta(hours=2))
    lf.collect(fresh_db, settings=settings, now=at(19, 0))
    once = table(fresh_db)
    again = lf.collect(fresh_db, settings=settings, now=at(19, 0))
    assert again.loaded == 60  # re-read through the lookback, upserted by id
    assert table(fresh_db) == once
    assert fresh_db.execute(
        "SELECT count(*) FROM collection_runs WHERE status = 'ok'"
    ).fetchall() == [(2,)]
    # Nothing due: the watermark is at now and lookback is zero.
    idle = lf.collect(fresh_db, settings=settings_for(server, lookback=timedelta(0)), now=at(19, 0))
    assert idle.window is None and idle.pages == 0


@pytest.mark.service
def test_pagination_edge_cases(fresh_db, server):
    # page size 1: one request per generation (+ the root query pages), no duplicates, no gaps
    report = lf.collect(
        fresh_db,
        settings=settings_for(server, page_size=1, chunk=timedelta(hours=1)),
        now=at(19, 0),
    )
    assert report.loaded == 60 and len(table(fresh_db)) == 60
    assert sum(1 for q in server.requests if q.get("type") == ["GENERATION"]) == 60
    # an empty window still completes and moves the watermark
    empty = lf.collect(
        fresh_db, settings=settings_for(server, lookback=timedelta(0)), now=at(20, 0)
    )
    assert (empty.observations, empty.loaded) == (0, 0)
    assert sink.get_watermark(fresh_db, "langfuse", "generations") == datetime(
        2023, 11, 16, 20, 0, tzinfo=UTC
    )
    # a server that hands back the same cursor forever is stopped, not followed
    server.loop_cursor = True
    with pytest.raises(CollectorError, match="cursor .* twice"):
        lf.collect(
            fresh_db, settings=settings_for(server), window=Window(T0, T0 + timedelta(hours=1))
        )


@pytest.mark.service
def test_wrong_keys_give_a_clear_error_without_the_secret(fresh_db, server, caplog):
    caplog.set_level(logging.DEBUG)
    settings = settings_for(server, secret_key="sk-lf-WRONG-secret")
    with pytest.raises(CollectorError) as info:
        lf.collect(fresh_db, settings=settings, now=at(19, 0))
    assert "HTTP 401" in str(info.value) and "LANGFUSE_SECRET_KEY" in str(info.value)
    assert "sk-lf-WRONG-secret" not in str(info.value) + caplog.text + repr(settings)


@pytest.mark.service
def test_secret_never_logged_on_success(fresh_db, server, caplog):
    caplog.set_level(logging.DEBUG)
    report = lf.collect(fresh_db, settings=settings_for(server), now=at(19, 0))
    rendered = str(lf.render(report).columns) + repr(report)
    assert server.secret_key not in caplog.text + rendered


@pytest.mark.service
def test_tenant_rule_is_configurable(fresh_db, server, monkeypatch):
    monkeypatch.setenv("COSTLAB_LANGFUSE_TENANT_RULE", '["session", "const:shared"]')
    settings = settings_for(server)
    assert settings.tenant_rule == ["session", "const:shared"]
    lf.collect(fresh_db, settings=settings, now=at(19, 0))
    assert fresh_db.execute(
        "SELECT tenant FROM llm_observations WHERE observation_id = 'gen-0004'"
    ).fetchall() == [("sess-0001",)]
    with pytest.raises(ValidationError, match="valid forms"):
        LangfuseSettings(tenant_rule=["label:team"])


def test_keys_come_from_the_environment(monkeypatch):
    monkeypatch.delenv("LANGFUSE_PUBLIC_KEY", raising=False)
    monkeypatch.delenv("LANGFUSE_SECRET_KEY", raising=False)
    with pytest.raises(UsageError, match="LANGFUSE_PUBLIC_KEY"):
        lf.make_client(LangfuseSettings())
    monkeypatch.setenv("LANGFUSE_PUBLIC_KEY", "pk-env")
    monkeypatch.setenv("LANGFUSE_SECRET_KEY", "sk-env-secret")
    settings = LangfuseSettings()
    assert (
        settings.public_key == "pk-env"
        and settings.secret_key.get_secret_value() == "sk-env-secret"
    )
    assert "sk-env-secret" not in repr(settings) + str(settings.model_dump())


@pytest.mark.service
def test_cli_collects_into_a_database_file(tmp_path, server, monkeypatch):
    from typer.testing import CliRunner

    from costlab.cli import app

    monkeypatch.setenv("LANGFUSE_PUBLIC_KEY", server.public_key)
    monkeypatch.setenv("LANGFUSE_SECRET_KEY", server.secret_key)
    monkeypatch.setenv("COSTLAB_LANGFUSE_INITIAL_START", "2023-11-16T18:00:00Z")
    monkeypatch.setenv("COSTLAB_LANGFUSE_CHUNK", "P5000D")  # one chunk from 2023 to now
    db = tmp_path / "c.duckdb"
    result = CliRunner().invoke(app, ["--db", str(db), "collect", "langfuse", "--host", server.url])
    assert result.exit_code == 0, result.output
    assert "generations read" in result.output and "60" in result.output
    assert server.secret_key not in result.output
    from costlab import store

    conn = store.connect(db)
    assert conn.execute("SELECT count(*) FROM llm_observations").fetchall() == [(60,)]
    conn.close()
