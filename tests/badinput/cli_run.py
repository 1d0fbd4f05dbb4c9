"""Run the real entry point (`costlab.cli.main`, which maps errors to exit codes) in-process."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from costlab.cli import main


@dataclass
class Result:
    code: int
    out: str
    err: str


def run(capsys: pytest.CaptureFixture[str], *args: str) -> Result:
    capsys.readouterr()
    try:
        main(list(args))
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    captured = capsys.readouterr()
    return Result(code, captured.out, captured.err)


def one_line_error(result: Result, code: int = 2) -> str:
    """The error line of a failed run; asserts the exit code and that nothing else was said."""
    assert result.code == code, (result.code, result.out, result.err)
    assert "Traceback" not in result.out + result.err
    lines = result.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.err
    return lines[0]
