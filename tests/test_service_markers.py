"""The quick lane (`pytest -m "not service"`) starts no service: every test module that starts a
real server or tool process is marked `service` (pyproject.toml markers)."""

from __future__ import annotations

import re
from pathlib import Path

TESTS = Path(__file__).resolve().parent
# What starting a service looks like in this suite's modules.
STARTS = re.compile(
    r"\bPromServer\(|\bsubprocess\.(?:Popen|run)\([^)]*promtool|Chromium\(|\bmoto_server|ThreadedMotoServer|\bnbclient\b|SparkSession"
)
MARKED = re.compile(r"pytestmark\s*=\s*(?:\[[^\]]*)?pytest\.mark\.service|@pytest\.mark\.service")


def test_modules_that_start_services_are_marked():
    unmarked = [
        str(p.relative_to(TESTS))
        for p in sorted(TESTS.rglob("test_*.py"))
        if p != Path(__file__).resolve()
        and STARTS.search(p.read_text())
        and not MARKED.search(p.read_text())
    ]
    assert not unmarked, f"start a service but carry no service marker: {unmarked}"
