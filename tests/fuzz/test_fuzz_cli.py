"""Random arguments to the CLI on a tiny database: dates, periods, formats, paths and numbers.
Every run ends with exit 0, 1 or 2 and never a traceback or an exception but SystemExit."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from .conftest import cli, fuzz_settings

EDGE_DATES = [
    "0001-01-01",
    "9999-12-31",
    "9999-12-31T23:59:59",
    "0001-01-01T00:00+14:00",
    "1970-01-01",
    "2100-01-01",
    "2026-11-02",
    "2026-11-02T02:00Z",
    "2026-11-02T01:30+01:00",
    "",
    " ",
    "now",
    "2026-02-30",
]
dates = st.one_of(
    st.sampled_from(EDGE_DATES),
    st.datetimes().map(lambda d: d.isoformat()),
    st.text(max_size=25),
)
periods = st.one_of(
    st.from_regex(r"\A\d{4}-\d{2}\Z"),
    st.from_regex(r"\A\d{4}-W\d{2}\Z"),
    st.sampled_from(["2026-11", "2026-W45", "9999-12", "0000-01", "2026-W53", ""]),
    st.text(max_size=12),
)
formats = st.sampled_from(["table", "csv", "json", "xml", "", "JSON"])
numbers = st.one_of(
    st.integers(-(10**30), 10**30).map(str),
    st.sampled_from(["0", "-1", "1e308", "nan", "inf", "", "0x10", "1_000"]),
)
names = st.text(
    alphabet=st.characters(codec="utf-8", exclude_characters="/\x00"), min_size=1, max_size=12
)


def paths(place: str) -> st.SearchStrategy[str]:
    return st.one_of(
        st.sampled_from(
            [
                "",
                ".",
                f"{place}/afile",
                f"{place}/afile/x",
                f"{place}/bin.yaml",
                f"{place}/missing/deeper/x",
                "/proc/version",
                place,
            ]
        ),
        names.map(lambda n: f"{place}/out/{n}"),
    )


def opt(name: str, values: st.SearchStrategy[str]) -> st.SearchStrategy[list[str]]:
    """The option with a value, or left out."""
    return st.one_of(st.just([]), values.map(lambda v: [name, v]))


def commands(place: str) -> st.SearchStrategy[list[str]]:
    p = paths(place)
    by = st.sampled_from(["team", "namespace", "label:team", "label:", "colour", "model"])
    flat = st.tuples  # a command's parts, joined below
    return st.one_of(
        flat(
            st.just(["allocate"]),
            opt("--start", dates),
            opt("--end", dates),
            opt("--by", by),
            opt("--format", formats),
            opt("--idle", st.sampled_from(["share", "separate", "never"])),
            opt("--input", p),
        ),
        flat(
            st.just(["tokens"]),
            opt("--start", dates),
            opt("--end", dates),
            opt("--by", st.sampled_from(["model", "trace", "user", "x"])),
            opt("--limit", numbers),
            opt("--format", formats),
        ),
        flat(
            st.just(["report"]), st.just(["--out"]), p.map(lambda v: [v]), opt("--period", periods)
        ),
        flat(st.just(["rules", "--out"]), p.map(lambda v: [v])),
        flat(st.just(["recommend", "--out"]), p.map(lambda v: [v]), opt("--current", p)),
        flat(st.just(["export", "parquet", "--out"]), p.map(lambda v: [v])),
        flat(
            st.just(["simulate"]),
            opt("--strategy", st.sampled_from(["spot", "schedule", "all", "magic"])),
            opt("--format", formats),
        ),
        # a valid --days would build a whole demo into the shared database: only bad ones
        flat(
            st.just(["demo", "--days"]),
            numbers.filter(lambda n: n not in map(str, range(1, 91))).map(lambda v: [v]),
        ),
    ).map(lambda parts: [a for part in parts for a in part])


@st.composite
def invocations(draw, place: str) -> list[str]:
    db = draw(
        st.sampled_from(
            [f"{place}/fuzz.duckdb"] * 6 + [f"{place}/afile", f"{place}/missing.duckdb", place]
        )
    )
    return ["--db", db, *draw(commands(place))]


def test_cli_arguments(in_place):
    @fuzz_settings(60)
    @given(invocations(str(in_place)))
    def run(args):
        cli(*args).check()

    run()
