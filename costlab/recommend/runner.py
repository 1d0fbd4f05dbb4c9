"""Glue for `costlab recommend --out DIR`: simulate, build manifests, write the files."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from costlab import paths, schemas
from costlab.config import settings_for
from costlab.errors import UsageError
from costlab.recommend.build import Recommendations, build
from costlab.recommend.diff import diff_nodepools
from costlab.recommend.emit import files
from costlab.simulate import runner as sim_runner
from costlab.simulate.base import SimInputs
from costlab.simulate.combined import CombinedSettings


def recommend(
    inputs: SimInputs, current_text: str | None = None, settings: CombinedSettings | None = None
) -> tuple[Recommendations, dict[str, str]]:
    """Recommendations and the files to write (name -> text), pure. Each manifest is validated
    against its pinned CRD schema (costlab/schemas): a failure raises schemas.SchemaError."""
    cfg = settings or CombinedSettings()
    results = sim_runner.simulate(inputs, "all", cfg)
    rec = build(inputs, results, settings=cfg)
    # A manifest kubectl would reject (or silently prune) is never written.
    for obj in (*rec.nodepools, *rec.nodeclasses, *rec.scaledobjects):
        schemas.validate(obj)
    combined = next(r for r in results if r.strategy == "all")
    out = files(rec, combined.savings_per_month_usd_micros)
    if current_text is not None:
        out["nodepools.diff"] = diff_nodepools(current_text, rec.nodepools)
    return rec, out


def recommend_from_cli(
    db_path: Path, *, out: Path, console: Any, current: Path | None = None
) -> str:
    """CLI entry: write manifests and summary.md into `out` (created if missing)."""
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {out} is a file, not a folder")
    text = paths.read_text(current, "--current") if current is not None else None
    _, written = recommend(
        sim_runner.load(db_path), text, settings_for(CombinedSettings, "simulate")
    )
    out.mkdir(parents=True, exist_ok=True)
    for name, content in written.items():
        (out / name).write_text(content)
    return f"wrote {len(written)} files to {out}: " + ", ".join(written)
