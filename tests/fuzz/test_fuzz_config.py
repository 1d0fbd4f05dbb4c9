"""Random config files (COSTLAB_CONFIG) and random COSTLAB_* environment overrides: every
section's settings either build or fail with a one-line UsageError, and a command run under them
exits 0, 1 or 2 without a traceback."""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from costlab import config
from costlab.errors import UsageError

from .conftest import cli, fuzz_settings

SECTIONS = sorted(config.SECTIONS)
FIELDS = {name: sorted(config.section_model(name).model_fields) for name in SECTIONS}

keys = st.one_of(
    st.sampled_from(sorted({f for fs in FIELDS.values() for f in fs})),
    st.from_regex(r"\A[a-z_]{1,12}\Z"),
)
scalars = st.one_of(
    st.integers(-(2**70), 2**70).map(str),
    st.floats().map(lambda f: {"inf": "inf", "-inf": "-inf", "nan": "nan"}.get(repr(f), repr(f))),
    st.text(max_size=12).map(json.dumps),
    st.sampled_from(["true", "false", "2026-11-01", "1979-05-27T07:32:00Z", "[]", "{}", '"1h"']),
)
values = st.one_of(
    scalars,
    st.lists(scalars, max_size=3).map(lambda v: "[" + ", ".join(v) + "]"),
    st.lists(st.tuples(keys, scalars), max_size=2).map(
        lambda kv: "{ " + ", ".join(f"{k} = {v}" for k, v in kv) + " }"
    ),
)
tables = st.tuples(
    st.one_of(st.sampled_from(SECTIONS), st.from_regex(r"\A[a-z]{1,8}\Z")),
    st.lists(st.tuples(keys, values), max_size=4),
)
toml_ish = st.one_of(
    st.lists(tables, max_size=3).map(
        lambda ts: "".join(
            f"[{name}]\n" + "".join(f"{k} = {v}\n" for k, v in pairs) for name, pairs in ts
        )
    ),
    st.text(max_size=200),
)


@contextlib.contextmanager
def environ(**values: str) -> Iterator[None]:
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def every_section_builds_or_says_why() -> None:
    for name in SECTIONS:
        try:
            config.settings_for(config.section_model(name), name)
        except UsageError as exc:
            assert str(exc).strip(), name


@fuzz_settings(80)
@given(toml_ish, st.booleans())
def test_random_config_files(text, bom):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "costlab.toml"  # a new path each time: the parsed file is cached
        path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + text.encode("utf-8", "replace"))
        with environ(COSTLAB_CONFIG=str(path)):
            every_section_builds_or_says_why()


env_overrides = st.lists(
    st.sampled_from(SECTIONS).flatmap(
        lambda name: st.tuples(
            st.sampled_from(FIELDS[name]).map(
                lambda key, name=name: config.env_name(config.section_model(name), key)
            ),
            st.one_of(
                st.text(
                    alphabet=st.characters(codec="utf-8", exclude_characters="\x00"), max_size=20
                ),
                values,
            ),
        )
    ),
    min_size=1,
    max_size=4,
)


@fuzz_settings(80)
@given(env_overrides)
def test_random_environment_overrides(pairs):
    with environ(**dict(pairs)):
        every_section_builds_or_says_why()


def test_commands_under_random_config_and_environment(in_place):
    @fuzz_settings(12)
    @given(toml_ish, env_overrides, st.sampled_from(["rules", "allocate", "tokens", "report"]))
    def run(text, pairs, command):
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "costlab.toml"
            path.write_text(text, encoding="utf-8", errors="replace")
            args = {
                "rules": ["rules", "--out", f"{tmp}/rules.yaml"],
                "allocate": ["allocate", "--format", "json"],
                "tokens": ["tokens"],
                "report": ["report", "--out", f"{tmp}/report"],
            }[command]
            with environ(COSTLAB_CONFIG=str(path), **dict(pairs)):
                cli("--db", str(in_place / "fuzz.duckdb"), *args).check()

    run()
