"""`costlab report --period YYYY-MM|YYYY-Www --out DIR`: the batch report of one month or week.

Writes into DIR, named by period label (e.g. 2026-W47):
  report-<label>.html      self-contained HTML (plotly.js inline, printable CSS)
  allocation-<label>.csv   the allocation rows of the period (exact USD next to micro-dollars)
  focus-<label>.csv        FOCUS 1.1 cost-and-usage rows (see costlab.report.focus)
  focus-<label>.parquet    the same rows, typed

The database is opened read-only: the report reads the `allocation` table that `costlab allocate`
(or the CronJob) wrote and never allocates itself. Without --period it reports the last complete
month in the allocation data, else the last complete ISO week (costlab.report.periods).
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import polars as pl

from costlab import progress, store
from costlab.errors import UsageError
from costlab.report import data as report_data
from costlab.report import html as report_html
from costlab.report.data import ReportData, Savings
from costlab.report.focus import CSV_DATETIME_FORMAT, FocusSettings, focus_table, write_focus
from costlab.report.periods import Period, default_period, parse_period
from costlab.report.savings import simulator_savings


@dataclass(frozen=True)
class ReportFiles:
    period: Period
    html: Path
    allocation_csv: Path
    focus_csv: Path
    focus_parquet: Path
    data: ReportData
    focus_rows: int

    @property
    def paths(self) -> list[Path]:
        return [self.html, self.allocation_csv, self.focus_csv, self.focus_parquet]


def resolve_period(conn: Any, period: str | None) -> Period:
    """The --period given, else the default (last complete month, else last complete ISO week)."""
    if period:
        return parse_period(period)
    first, last = report_data.coverage(conn)
    return default_period(first, last)


def build_report(
    db_path: Path | str,
    *,
    period: str | None,
    out: Path,
    savings_provider: Callable[[Path], Savings] = simulator_savings,
    focus_settings: FocusSettings | None = None,
    now: datetime | None = None,
) -> ReportFiles:
    """Query the period's figures and write HTML, allocation CSV and FOCUS CSV + Parquet into `out`."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {out} is a file, not a folder")
    with progress.track("report", 4, "steps") as bar:
        return _build(db_path, period, out, savings_provider, focus_settings, now, bar)


def _build(
    db_path: Path | str,
    period: str | None,
    out: Path,
    savings_provider: Callable[[Path], Savings],
    focus_settings: FocusSettings | None,
    now: datetime | None,
    bar: Any,
) -> ReportFiles:
    bar.update(description="report: period")
    conn = store.connect(db_path, read_only=True)
    try:
        chosen = resolve_period(conn, period)
        first, last = report_data.coverage(conn)
    finally:
        conn.close()
    bar.advance()
    bar.update(description="report: simulated savings")
    # the simulator opens the database itself; run it while no other connection is open
    savings = savings_provider(Path(db_path))
    bar.advance()
    bar.update(description="report: figures and FOCUS rows")
    conn = store.connect(db_path, read_only=True)
    try:
        data = report_data.collect(conn, chosen, savings)
        if data.summary.hours == 0:
            span = (
                "no allocation at all"
                if first is None
                else f"allocation from {first:%Y-%m-%d %H:%M} to {last:%Y-%m-%d %H:%M} UTC"
            )
            raise UsageError(
                f"no allocation rows in {chosen.label}; the database holds {span}. "
                f"Run `costlab allocate --start {chosen.window.start:%Y-%m-%d} --end {chosen.window.end:%Y-%m-%d}` first"
            )
        params = {"start": chosen.window.start, "end": chosen.window.end}
        allocation = conn.sql(
            store.load_sql("report/batch_allocation_csv"), params=params
        ).to_arrow_table()
        focus = focus_table(conn, chosen, focus_settings)
    finally:
        conn.close()
    bar.advance()
    bar.update(description="report: files")

    label = chosen.label
    files = ReportFiles(
        period=chosen,
        html=out / f"report-{label}.html",
        allocation_csv=out / f"allocation-{label}.csv",
        focus_csv=out / f"focus-{label}.csv",
        focus_parquet=out / f"focus-{label}.parquet",
        data=data,
        focus_rows=focus.num_rows,
    )
    # Written into a sibling folder and moved into place at the end: a killed report leaves no
    # half-written file and no HTML without its data files in `out`.
    staging = _staging_dir(out)
    try:
        frame = pl.from_arrow(allocation)
        assert isinstance(frame, pl.DataFrame)
        frame.write_csv(staging / files.allocation_csv.name, datetime_format=CSV_DATETIME_FORMAT)
        write_focus(focus, staging / files.focus_csv.name, staging / files.focus_parquet.name)
        generated = (now or datetime.now(UTC)).astimezone(UTC)
        page = report_html.render(
            data,
            generated=generated,
            source=Path(db_path).name,
            files=[p.name for p in (files.allocation_csv, files.focus_csv, files.focus_parquet)],
        )
        (staging / files.html.name).write_text(page, encoding="utf-8")
        _move_into_place(staging, out, [p.name for p in files.paths])
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    bar.advance()
    return files


STAGING_MARK = ".partial-"


def _staging_dir(out: Path) -> Path:
    """A fresh `.<out>.partial-<pid>` folder beside `out`, after removing those of dead runs."""
    parent = out.parent
    parent.mkdir(parents=True, exist_ok=True)
    for old in parent.glob(f".{out.name}{STAGING_MARK}*"):
        pid = old.name.rpartition(STAGING_MARK)[2].split("-")[0]
        if not (pid.isdigit() and _alive(int(pid))):
            shutil.rmtree(old, ignore_errors=True)
    # mkdir, not mkdtemp: the folder may become `out` itself and should get the usual mode
    staging = parent / f".{out.name}{STAGING_MARK}{os.getpid()}-{uuid.uuid4().hex[:8]}"
    staging.mkdir()
    return staging


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _move_into_place(staging: Path, out: Path, names: list[str]) -> None:
    """A new `out` appears whole (one rename); into an existing one (other periods' reports) each
    file is replaced atomically, the HTML (first in `names`) last."""
    if not out.exists():
        try:
            staging.rename(out)
            return
        except OSError:
            out.mkdir(parents=True, exist_ok=True)  # created meanwhile: move file by file
    for name in [*names[1:], names[0]]:
        os.replace(staging / name, out / name)


def report_from_cli(db_path: Path, *, period: str | None, out: Path, console: Any) -> str:  # noqa: ARG001
    """CLI entry of `costlab report`: write the files, return a one-paragraph summary."""
    files = build_report(db_path, period=period, out=out)
    s = files.data.summary
    partial = (
        ""
        if files.data.complete
        else f" (partial: {s.hours} of {files.data.period_hours} hours have data)"
    )
    return (
        f"costlab report {files.period.label}{partial}: total {report_html.usd_text(s.total_usd_micros)}, "
        f"idle {report_html.usd_text(s.idle_usd_micros)}, trend {report_html.pct_text(files.data.trend_ratio, signed=True)} "
        f"vs {files.data.previous.label}\nwrote {', '.join(str(p) for p in files.paths)}"
    )
