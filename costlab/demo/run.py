"""`costlab demo`: build the fleet, load it through the collectors' transforms and loaders,
allocate, and summarise."""

from __future__ import annotations

from datetime import timedelta
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
from rich.console import Group
from rich.table import Table
from rich.text import Text

from costlab import progress, store
from costlab.allocate.gpu import allocate_window
from costlab.allocate.report import report_by
from costlab.allocate.tokens import token_rates
from costlab.collect import series, sink
from costlab.demo import profiles as P
from costlab.demo import signals
from costlab.demo.fleet import DEMO_FLEET, Fleet
from costlab.demo.prices import price_records
from costlab.demo.traffic import observations
from costlab.demo.workload import FleetBuilder
from costlab.errors import UsageError
from costlab.render import usd
from costlab.timeutil import Window

DCGM_BATCH_ROWS = 2_000_000  # long-form samples per transform+load batch: bounds memory


def instance_specs() -> dict[str, tuple[int, str, int]]:
    """instance type -> (GPU count, GPU model, MiB per GPU), from the shipped Karpenter table."""
    with resources.as_file(
        resources.files("costlab.data").joinpath("gpu_instance_types.csv")
    ) as path:
        frame = pl.read_csv(path)
    return {
        r["instance_type"]: (r["gpu_count"], r["gpu_model"], r["gpu_memory_mib"])
        for r in frame.iter_rows(named=True)
    }


def _prepare_db(db: Path) -> None:
    """The demo replaces its database, but never one that holds collected (non-demo) data."""
    if not db.exists():
        return
    conn = store.connect(db)
    try:
        row = conn.execute("SELECT count(*) FROM collection_runs WHERE source <> 'demo'").fetchone()
        foreign = row[0] if row else 0
    finally:
        conn.close()
    if foreign:
        raise UsageError(
            f"{db} holds collected data; the demo only overwrites demo databases (use another --db)"
        )
    db.unlink()
    Path(f"{db}.wal").unlink(missing_ok=True)


def load_demo(
    conn: Any, days: int, seed: int, fleet: Fleet = DEMO_FLEET, bar: Any = None
) -> Window:
    """Generate and load the demo fleet into an open database; returns the demo window.

    `bar` (costlab.progress) advances once per cluster, then once for prices and LangFuse data."""
    bar = bar or progress.NoProgress()
    end = P.DEMO_END
    start = end - timedelta(days=days)
    window = Window(start, end)
    n_minutes = days * 1440
    step = timedelta(seconds=P.STEP_S)
    workload = FleetBuilder(fleet, instance_specs(), start, n_minutes, seed).build()
    rng = np.random.default_rng(seed + 1)
    with sink.collection_run(conn, "demo", window) as run:
        for cluster in fleet.clusters:
            name = cluster.name
            bar.update(description=f"demo {name}")
            nodes = series.nodes_from_karpenter(
                signals.karpenter_node_series(workload, start, name),
                step,
                end,
                cluster=name,
                end_reasons=signals.end_reasons(workload, name),
            )
            run.reports.append(sink.load(conn, "nodes", nodes, run_id=run.run_id))
            pods = series.pod_requests_from_ksm(
                signals.ksm_pod_series(workload, start, name), step, end, cluster=name
            )
            run.reports.append(sink.load(conn, "pod_gpu_requests", pods, run_id=run.run_id))
            teams = _namespace_teams(fleet, name)
            pod_labels, ns_labels = series.labels_from_ksm(
                signals.ksm_label_series(workload, start, name, teams), cluster=name
            )
            run.reports.append(sink.load(conn, "pod_labels", pod_labels, run_id=run.run_id))
            run.reports.append(sink.load(conn, "namespace_labels", ns_labels, run_id=run.run_id))
            batch: list[pl.DataFrame] = []
            rows = 0
            for frame in signals.dcgm_series(workload, start, name, rng):
                batch.append(frame)
                rows += frame.height
                if rows >= DCGM_BATCH_ROWS:
                    _load_dcgm(conn, batch, name, run)
                    batch, rows = [], 0
            _load_dcgm(conn, batch, name, run)
            bar.advance()
        bar.update(description="demo prices")
        run.reports.append(
            sink.load(conn, "prices", price_records(fleet, workload, start, rng), run_id=run.run_id)
        )
        run.reports.append(
            sink.load(
                conn,
                "llm_observations",
                observations(fleet, workload, start, rng),
                run_id=run.run_id,
            )
        )
        bar.advance()
        sink.set_watermark(conn, "demo", "all", end)
    return window


def _load_dcgm(conn: Any, batch: list[pl.DataFrame], cluster: str, run: sink.CollectionRun) -> None:
    if batch:
        samples = series.gpu_samples_from_dcgm(
            pl.concat(batch, how="diagonal"), cluster=cluster, step=timedelta(seconds=P.STEP_S)
        )
        run.reports.append(sink.load(conn, "gpu_samples", samples, run_id=run.run_id))


def _namespace_teams(fleet: Fleet, cluster: str) -> dict[str, str | None]:
    teams: dict[str, str | None] = {}
    for s in fleet.services:
        if s.cluster == cluster:
            teams[s.namespace] = s.team
    for group in (fleet.training, fleet.batches):
        for q in group:
            if q.cluster == cluster:
                teams[q.namespace] = q.team
    for m in fleet.mig:
        if m.cluster == cluster:
            teams.update(dict(m.teams))
    return teams


def run(db: Path, *, days: int, seed: int, console: Any) -> Group:
    _prepare_db(Path(db))
    conn = store.connect(db)
    try:
        # one step per cluster, the prices and LangFuse observations, the allocation
        with progress.track("demo", len(DEMO_FLEET.clusters) + 2, "steps") as bar:
            window = load_demo(conn, days, seed, bar=bar)
            bar.update(description="demo allocation")
            allocation = allocate_window(conn, window, window.end)
            bar.advance()
        return summary(conn, window, allocation.total_node_cost_usd_micros, db)
    finally:
        conn.close()


def summary(conn: Any, window: Window, total: int, db: Path) -> Group:
    teams = report_by(conn, window, by="team", idle="separate")
    idle = next((r.cost_usd_micros for r in teams if r.tenant == "__idle__"), 0)
    by_team = Table(title="GPU cost by team (idle separate)")
    for col in ("team", "GPU-hours", "efficiency", "cost"):
        by_team.add_column(col, justify="left" if col == "team" else "right")
    for r in teams:
        eff = "-" if r.efficiency is None else f"{r.efficiency:.0%}"
        by_team.add_row(r.tenant, f"{r.gpu_hours:,.0f}", eff, usd(r.cost_usd_micros))
    params = {"start": window.start, "end": window.end}
    idle_nodes = Table(title="Top idle nodes")
    for col in ("cluster", "nodepool", "node", "instance", "idle GPU-h", "idle $"):
        idle_nodes.add_column(col)
    for r in conn.execute(
        store.load_sql("report/top_idle_nodes"), {**params, "limit": 5}
    ).fetchall():
        idle_nodes.add_row(r[0], r[1], r[2], r[3], f"{r[4]:,.0f}", usd(r[5]))
    tokens = Table(title="$ per 1M tokens by model (GPU cost vs LangFuse list price)")
    for col in ("model", "GPU cost", "tokens", "$/1M tokens", "list $/1M"):
        tokens.add_column(col, justify="left" if col == "model" else "right")
    for rate in token_rates(conn, window):
        tokens.add_row(
            rate.serving_key,
            usd(rate.gpu_cost_usd_micros),
            f"{(rate.input_tokens + rate.output_tokens) / 1e6:,.0f}M",
            "-" if rate.usd_per_1m_tokens is None else f"${rate.usd_per_1m_tokens:,.3f}",
            "-" if rate.list_usd_per_1m_tokens is None else f"${rate.list_usd_per_1m_tokens:,.3f}",
        )
    head = Text.assemble(
        ("costlab demo ", "bold"),
        f"{window.start:%Y-%m-%d} to {window.end:%Y-%m-%d} UTC: ",
        ("total GPU node cost ", ""),
        (usd(total), "bold"),
        f", idle {idle / total:.1%} ({usd(idle)})" if total else "",
    )
    me = _program()
    tail = Text(
        f"\nOpen the dashboard:  {me} --db {db} dashboard   (then http://localhost:8501)\n"
        f"Allocation by namespace:  {me} --db {db} allocate --by namespace"
    )
    return Group(head, by_team, idle_nodes, tokens, tail)


def _program() -> str:
    """How to run costlab again from here: the script this process was started as, relative to the
    working directory when it lies below it (`.venv/bin/costlab` after scripts/bootstrap.sh, where
    neither `costlab` nor `uv` need be on PATH), else plain `costlab`."""
    import os
    import shutil
    import sys
    from pathlib import Path

    script = Path(sys.argv[0])
    if script.name == "costlab" and script.is_file():
        try:
            rel = script.resolve().relative_to(Path.cwd().resolve())
        except ValueError:
            rel = None
        if rel is not None and shutil.which("costlab") != str(script.resolve()):
            return f".{os.sep}{rel}" if rel.parent != Path(".") else str(rel)
    return "costlab"
