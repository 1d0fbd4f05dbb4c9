"""A doctor report as a rich table plus per-series details, or as one JSON document."""

from __future__ import annotations

import json
from typing import Any

from rich.console import Group
from rich.table import Table
from rich.text import Text

from costlab.doctor.probe import Report, Result

_MARK = {"ok": "ok", "warning": "WARN", "error": "FAIL", "info": "info"}
_STYLE = {"ok": "green", "warning": "yellow", "error": "red", "info": "dim"}


def as_dict(report: Report) -> dict[str, Any]:
    return {
        "url": report.url,
        "cluster": report.cluster,
        "at": report.at.isoformat(),
        "lookback_s": report.lookback.total_seconds(),
        "allocation_possible": not report.problems,
        "exit_code": report.exit_code,
        "problems": report.problems,
        "checks": [_check(r) for r in report.results],
    }


def _check(r: Result) -> dict[str, Any]:
    bad = r.status != "found"
    return {
        "key": r.check.key,
        "source": r.check.source,
        "series": r.check.series,
        "status": r.status,
        "severity": r.severity,
        "series_count": r.series_count,
        "sample_labels": r.sample,
        "scrape_interval_s": r.interval_s,
        "last_seen": r.last_seen.isoformat() if r.last_seen else None,
        "notes": r.notes,
        "degrades": r.check.degrades,
        "fix": "\n".join(r.fixes or [r.check.fix]) if bad else None,
        "upstream": r.check.upstream,
    }


def as_json(report: Report) -> str:
    return json.dumps(as_dict(report), indent=2)


def _labels(sample: dict[str, str]) -> str:
    return "{" + ", ".join(f'{k}="{v}"' for k, v in sorted(sample.items())) + "}"


def as_rich(report: Report) -> Group:
    table = Table(title=f"costlab doctor: {report.url}", title_justify="left", expand=False)
    for name in ("status", "series", "found", "interval"):
        table.add_column(name, overflow="fold")
    for r in report.results:
        sev = r.severity
        found = {"found": f"{r.series_count} series", "missing": "missing"}.get(
            r.status, f"{r.series_count} series, unexpected shape"
        )
        interval = f"{r.interval_s:g}s" if r.interval_s else "-"
        table.add_row(Text(_MARK[sev], style=_STYLE[sev]), r.check.series, found, interval)
    parts: list[Any] = [table]
    for r in report.results:
        head = Text(f"\n{_MARK[r.severity]} {r.check.series} ({r.check.source}): {r.status}")
        head.stylize(_STYLE[r.severity])
        lines = [f"  {n}" for n in r.notes]
        if r.sample:
            lines.append(f"  sample: {_labels(r.sample)}")
        if r.status != "found":
            lines.append(f"  without it: {r.check.degrades}")
            fix = "\n".join(r.fixes or [r.check.fix])
            lines.append("  fix: " + fix.replace("\n", "\n  "))
        parts += [head, Text("\n".join(lines))]
    if report.problems:
        parts.append(Text("\nallocation cannot work:", style="bold red"))
        parts += [Text(f"  - {p}") for p in report.problems]
    else:
        warned = sum(r.severity == "warning" for r in report.results)
        parts.append(
            Text(
                f"\nallocation can work; {warned} series missing or misshapen degrade features "
                "(details above)."
                if warned
                else "\nallocation can work; every series costlab reads was found."
            )
        )
    return Group(*parts)
