"""Progress of long commands (demo, collect, allocate, report), always on stderr.

On a terminal: a rich progress bar with ETA that disappears when done. Otherwise (CI, a pod's
log, `2>file`): one line every few seconds, e.g. "allocate: 3/12 chunks, 25 %, ETA 40 s", so a
log shows the run is alive without a line per step. stdout is never touched: `--format json`
stays parseable.

Off unless the CLI turns it on (`enable()`), so library callers and tests see nothing. The
tracker mimics the part of rich's Progress API the callers use (add_task/update/advance).
"""

from __future__ import annotations

import os
import sys
import time
from contextlib import AbstractContextManager
from typing import Any

_enabled = False

# Seconds between two plain-text progress lines; COSTLAB_PROGRESS_INTERVAL overrides it.
DEFAULT_INTERVAL_S = 10.0


def enable(on: bool = True) -> None:
    global _enabled
    _enabled = on


def enabled() -> bool:
    return _enabled


class NoProgress:
    def __enter__(self) -> NoProgress:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def add_task(self, *a: Any, **k: Any) -> int:
        return 0

    def update(self, *a: Any, **k: Any) -> None:
        return None

    def advance(self, *a: Any, **k: Any) -> None:
        return None


def _interval() -> float:
    raw = os.environ.get("COSTLAB_PROGRESS_INTERVAL", "")
    try:
        return max(0.0, float(raw)) if raw else DEFAULT_INTERVAL_S
    except ValueError:
        return DEFAULT_INTERVAL_S


def _duration(seconds: float) -> str:
    s = round(seconds)
    if s < 90:
        return f"{s} s"
    if s < 5400:
        return f"{round(s / 60)} min"
    return f"{s / 3600:.1f} h"


class LogProgress:
    """Plain lines on stderr, at most one per interval (and none for a run shorter than it)."""

    def __init__(self, label: str, total: int, unit: str, interval: float) -> None:
        self.label, self.total, self.unit, self.interval = label, total, unit, interval
        self.done = 0
        self.description = ""
        self.started = self.last = time.monotonic()

    def __enter__(self) -> LogProgress:
        self.started = self.last = time.monotonic()
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def add_task(self, description: str = "", total: int | None = None, **_: Any) -> int:
        self.description = description
        if total is not None:
            self.total = total
        return 0

    def update(self, _task: int = 0, *, description: str | None = None, **_: Any) -> None:
        if description is not None:
            self.description = description

    def advance(self, _task: int = 0, advance: float = 1) -> None:
        self.done += int(advance)
        now = time.monotonic()
        if now - self.last >= self.interval and self.done < self.total:
            self.last = now
            print(self.line(now), file=sys.stderr, flush=True)

    def line(self, now: float) -> str:
        pct = 100 * self.done / self.total if self.total else 100.0
        text = f"{self.label}: {self.done}/{self.total} {self.unit}, {pct:.0f} %"
        if self.done:
            eta = (now - self.started) / self.done * (self.total - self.done)
            text += f", ETA {_duration(eta)}"
        if self.description and self.description != self.label:
            text += f" ({self.description})"
        return text


def track(label: str, total: int, unit: str = "steps") -> AbstractContextManager[Any]:
    """A progress tracker for `total` steps: a bar on a terminal, periodic lines otherwise.

    Nothing when progress is off or there is at most one step (nothing to estimate)."""
    if not _enabled or total < 2:
        return NoProgress()
    from rich.console import Console

    err = Console(stderr=True)
    if not err.is_terminal:
        tracker = LogProgress(label, total, unit, _interval())
        tracker.add_task(label, total=total)
        return tracker
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
    )

    return _Bar(
        Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn(unit),
            TimeRemainingColumn(),
            console=err,
            transient=True,
        ),
        label,
        total,
    )


class _Bar:
    """rich's Progress with its one task already added, so callers need no task id."""

    def __init__(self, progress: Any, label: str, total: int) -> None:
        self.progress, self.label, self.total = progress, label, total
        self.task = 0

    def __enter__(self) -> _Bar:
        self.progress.__enter__()
        self.task = self.progress.add_task(self.label, total=self.total)
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.__exit__(*exc)

    def add_task(self, description: str = "", total: int | None = None, **_: Any) -> int:
        self.progress.update(self.task, description=description, total=total)
        return self.task

    def update(self, _task: int = 0, *, description: str | None = None, **_: Any) -> None:
        if description is not None:
            self.progress.update(self.task, description=description)

    def advance(self, _task: int = 0, advance: float = 1) -> None:
        self.progress.advance(self.task, advance)


def progress_bar(console: Any, total: int, label: str = "prometheus", unit: str = "chunks") -> Any:
    """The Prometheus collector's progress (None console: a library call, no progress)."""
    if console is None:
        return NoProgress()
    return track(label, total, unit)
