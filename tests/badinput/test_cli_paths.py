"""--out, --input and --current naming nothing, a file where a folder is expected (or the other
way round), a missing parent, an unwritable folder or a binary file: one line, exit 2, nothing
written, never a traceback and never the working directory."""

from __future__ import annotations

import os
import shutil

import pytest

from costlab import paths
from costlab.errors import UsageError

from .cli_run import one_line_error, run


@pytest.fixture
def db(demo_db, tmp_path):
    path = tmp_path / "demo.duckdb"
    shutil.copy(demo_db, path)
    return path


@pytest.fixture
def place(tmp_path, monkeypatch):
    """A working directory with a file `afile` and a binary `bin.yaml`; asserts nothing new
    appears in it."""
    work = tmp_path / "work"
    work.mkdir()
    (work / "afile").write_text("x\n")
    (work / "bin.yaml").write_bytes(bytes(range(128, 256)))
    monkeypatch.chdir(work)
    yield work
    assert sorted(p.name for p in work.iterdir()) == ["afile", "bin.yaml"]


CASES = [
    (["rules", "--out", ""], "error: --out: an empty path (give a file or folder name)"),
    (["rules", "--out", "{w}"], "error: --out {w} is a folder; give a file name"),
    (
        ["rules", "--out", "{w}/missing/rules.yaml"],
        "error: --out {w}/missing/rules.yaml: the folder {w}/missing does not exist",
    ),
    (
        ["rules", "--out", "{w}/afile/rules.yaml"],
        "error: --out {w}/afile/rules.yaml: the folder {w}/afile is a file",
    ),
    (["recommend", "--out", ""], "error: --out: an empty path (give a file or folder name)"),
    (["recommend", "--out", "{w}/afile"], "error: --out {w}/afile is a file, not a folder"),
    (
        ["recommend", "--out", "{w}/afile/sub"],
        "error: --out {w}/afile/sub: {w}/afile is a file, not a folder",
    ),
    (
        ["recommend", "--out", "{w}/rec", "--current", "{w}/missing.yaml"],
        "error: --current {w}/missing.yaml: no such file",
    ),
    (
        ["recommend", "--out", "{w}/rec", "--current", "{w}/bin.yaml"],
        "error: --current {w}/bin.yaml is not a UTF-8 text file",
    ),
    (
        ["recommend", "--out", "{w}/rec", "--current", "{w}"],
        "error: --current {w} is a folder, not a file",
    ),
    (
        ["export", "parquet", "--out", ""],
        "error: Parquet layout: an empty path (give a file or folder name)",
    ),
    (
        ["export", "parquet", "--out", "{w}/afile"],
        "error: Parquet layout {w}/afile is a file, not a folder",
    ),
    (
        ["export", "parquet", "--out", "{w}/afile/lake"],
        "error: Parquet layout {w}/afile/lake: {w}/afile is a file, not a folder",
    ),
    (
        ["allocate", "--input", "{w}/afile"],
        "error: Parquet layout {w}/afile is a file, not a folder",
    ),
    (
        ["allocate", "--input", ""],
        "error: --input: an empty path (give a Parquet layout folder or s3:// URI)",
    ),
]


@pytest.mark.parametrize(("args", "expected"), CASES, ids=[" ".join(a)[:50] for a, _ in CASES])
def test_bad_paths_are_one_line(capsys, db, place, args, expected):
    result = run(capsys, "--db", str(db), *[a.format(w=place) for a in args])
    assert one_line_error(result) == expected.format(w=place)


def test_unwritable_folders_are_refused_before_work(capsys, db, place, monkeypatch):
    # The tests may run as root, for whom every folder is writable: the permission answer is
    # what os.access would say for an ordinary user on a read-only folder.
    real = os.access
    monkeypatch.setattr(
        paths.os, "access", lambda p, mode: False if str(p) == str(place) else real(p, mode)
    )
    result = run(capsys, "--db", str(db), "rules", "--out", str(place / "rules.yaml"))
    assert one_line_error(result) == (
        f"error: --out {place}/rules.yaml: the folder {place} is not writable"
    )
    result = run(capsys, "--db", str(db), "recommend", "--out", str(place / "a" / "b"))
    assert one_line_error(result) == (
        f"error: --out {place}/a/b: the folder {place} is not writable"
    )


def test_an_os_error_while_writing_is_one_line(capsys, db):
    # /proc/version exists, is a file in an existing folder, and refuses every write.
    result = run(capsys, "--db", str(db), "rules", "--out", "/proc/version")
    assert result.code in (1, 2) and "Traceback" not in result.err
    assert len(result.err.strip().splitlines()) == 1
    assert result.err.startswith("error: ")


def test_folder_checks():
    with pytest.raises(UsageError, match="an empty path"):
        paths.folder("  ", "--x")
    assert paths.output_folder("relative/new") == paths.Path("relative/new")
