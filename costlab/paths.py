"""Checks for paths the user names (--out, --input, --current) before any work is done, so a
typo ends in one line naming the option instead of a traceback after minutes of computing."""

from __future__ import annotations

import os
from pathlib import Path

from costlab.errors import UsageError


def _given(text: str | Path | None, option: str) -> Path:
    # typer turns '' into Path('.'): callers pass the raw text, so an empty value is caught here
    if text is None or not str(text).strip():
        raise UsageError(f"{option}: an empty path (give a file or folder name)")
    return Path(str(text)).expanduser()


def _nearest_existing(path: Path) -> Path:
    """`path` or its nearest ancestor that exists (the root always does)."""
    for candidate in (path.absolute(), *path.absolute().parents):
        if candidate.exists():
            return candidate
    return Path(path.absolute().anchor)


def _check_writable(folder: Path, path: Path, option: str) -> None:
    if not os.access(folder, os.W_OK | os.X_OK):
        raise UsageError(f"{option} {path}: the folder {folder} is not writable")


def output_file(text: str | Path | None, option: str = "--out") -> Path:
    """A file to write: not a folder, and its folder exists."""
    path = _given(text, option)
    if path.is_dir():
        raise UsageError(f"{option} {path} is a folder; give a file name")
    parent = path.absolute().parent
    if not parent.is_dir():
        why = "is a file" if parent.exists() else "does not exist"
        raise UsageError(f"{option} {path}: the folder {parent} {why}")
    _check_writable(parent, path, option)
    return path


def folder(text: str | Path | None, option: str) -> Path:
    """A folder that is or can be: named, not a file, nor below one (may not exist yet)."""
    path = _given(text, option)
    if path.exists() and not path.is_dir():
        raise UsageError(f"{option} {path} is a file, not a folder")
    existing = _nearest_existing(path)
    if not existing.is_dir():
        raise UsageError(f"{option} {path}: {existing} is a file, not a folder")
    return path


def output_folder(text: str | Path | None, option: str = "--out") -> Path:
    """A folder to write into, created later if missing: `folder`, and writable."""
    path = folder(text, option)
    _check_writable(_nearest_existing(path), path, option)
    return path


def input_file(text: str | Path | None, option: str) -> Path:
    """A file to read: it exists and is not a folder."""
    path = _given(text, option)
    if path.is_dir():
        raise UsageError(f"{option} {path} is a folder, not a file")
    if not path.is_file():
        raise UsageError(f"{option} {path}: no such file")
    return path


def read_text(path: Path, option: str) -> str:
    """A UTF-8 text file's content; a binary or unreadable file is a UsageError."""
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise UsageError(f"{option} {path} is not a UTF-8 text file") from None
    except OSError as exc:
        raise UsageError(f"{option} {path}: cannot read it ({exc.strerror})") from None
