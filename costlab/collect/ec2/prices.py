"""EC2 prices into `prices`: on-demand (Pricing API), spot history per zone, snapshots, overrides.

`collect` picks its source: an explicit snapshot file; else, without AWS credentials, the
snapshot shipped in costlab/data; else the live APIs. On-demand rows are keyed by the Pricing
API's term effective date and spot rows by each price change, so re-running only upserts and
history is kept. Spot history is incremental per region (watermark `prices` / `spot:<region>`).
Requested instance types that get no price are reported, never priced at $0.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from importlib import resources
from pathlib import Path
from typing import Any

import boto3
import duckdb
import polars as pl
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict
from rich.table import Table

from costlab import store
from costlab.collect import sink
from costlab.collect.ec2.price_import import parse_overrides
from costlab.collect.ec2.pricing_api import PRICING_REGION, fetch_ondemand
from costlab.collect.ec2.snapshot import shipped_snapshot, snapshot_prices
from costlab.collect.ec2.spot import fetch_spot
from costlab.config import settings_for
from costlab.errors import UsageError

log = logging.getLogger(__name__)

SOURCE = "prices"


def gpu_instance_types() -> list[str]:
    """The GPU instance types costlab ships specs for (costlab/data/gpu_instance_types.csv)."""
    path = Path(str(resources.files("costlab.data").joinpath("gpu_instance_types.csv")))
    return sorted(pl.read_csv(path, columns=["instance_type"])["instance_type"].to_list())


class PricesSettings(BaseSettings):
    """What `costlab collect prices` asks AWS for. Env prefix COSTLAB_PRICES_."""

    model_config = SettingsConfigDict(env_prefix="COSTLAB_PRICES_", extra="ignore")

    regions: list[str] = Field(
        default_factory=lambda: ["us-east-1"], description="Regions to price."
    )
    instance_types: list[str] = Field(
        default_factory=list,
        description="Instance types to price; empty = every on-demand type, GPU types for spot.",
    )
    spot_history: timedelta = Field(
        timedelta(days=30), gt=timedelta(0), description="Spot history read on the first run."
    )
    spot_lookback: timedelta = Field(
        timedelta(hours=6), ge=timedelta(0), description="Spot history re-read on later runs."
    )


@dataclass
class PricesReport:
    """Rows per source, what was not priced, and where the prices came from."""

    mode: str  # snapshot | shipped-snapshot | aws
    loaded: dict[str, int] = field(default_factory=dict)
    quarantined: int = 0
    unpriced: dict[str, list[str]] = field(default_factory=dict)  # region -> instance types
    zero_priced: dict[str, list[str]] = field(default_factory=dict)
    note: str = ""
    warnings: list[str] = field(default_factory=list)


def _load(conn: duckdb.DuckDBPyConnection, run: sink.CollectionRun, frame: pl.DataFrame) -> int:
    rep = sink.load(conn, "prices", frame, run_id=run.run_id)
    run.reports.append(rep)
    return rep.loaded


def has_aws_credentials(session: boto3.Session) -> bool:
    return session.get_credentials() is not None


def collect(
    conn: duckdb.DuckDBPyConnection,
    *,
    settings: PricesSettings,
    snapshot: Path | None = None,
    session: boto3.Session | None = None,
    clients: Callable[[str, str], Any] | None = None,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> PricesReport:
    """Load prices. `clients(service, region)` builds boto3 clients (tests pass stubbed ones)."""
    if snapshot is not None:
        return _load_snapshot(conn, snapshot, "snapshot", f"snapshot {snapshot}")
    session = session or boto3.Session()
    if clients is None:
        if not has_aws_credentials(session):
            return _load_snapshot(
                conn, None, "shipped-snapshot", "no AWS credentials: loaded the shipped snapshot"
            )
        # boto3-stubs type client() per literal service name; `service` is a str parameter here
        clients = lambda service, region: session.client(service, region_name=region)  # type: ignore[call-overload]  # noqa: E731
    return _collect_aws(conn, settings, clients, now())


def _load_snapshot(
    conn: duckdb.DuckDBPyConnection, path: Path | None, mode: str, note: str
) -> PricesReport:
    if path is not None and not path.is_file():
        raise UsageError(f"--snapshot {path}: no such file")
    frame = snapshot_prices(path)
    report = PricesReport(mode=mode, note=note + ("" if path else f" ({shipped_snapshot().name})"))
    with sink.collection_run(conn, SOURCE) as run, store.transaction(conn):
        report.loaded["snapshot"] = _load(conn, run, frame)
    report.quarantined = run.quarantined
    return report


def _collect_aws(
    conn: duckdb.DuckDBPyConnection,
    settings: PricesSettings,
    clients: Callable[[str, str], Any],
    now: datetime,
) -> PricesReport:
    report = PricesReport(mode="aws")
    pricing = clients("pricing", PRICING_REGION)
    spot_types = settings.instance_types or gpu_instance_types()
    with sink.collection_run(conn, SOURCE) as run:
        for region in settings.regions:
            ondemand = fetch_ondemand(pricing, region, settings.instance_types)
            priced = {r["instance_type"] for r in ondemand.rows}
            missing = sorted(set(settings.instance_types) - priced)
            if missing:
                report.unpriced[region] = missing
            if ondemand.zero_priced:
                report.zero_priced[region] = sorted(set(ondemand.zero_priced) - priced)
            series = f"spot:{region}"
            watermark = sink.get_watermark(conn, SOURCE, series)
            start = now - settings.spot_history
            if watermark is not None:
                start = max(watermark - settings.spot_lookback, start)
            spot = fetch_spot(clients("ec2", region), region, spot_types, start, now)
            with store.transaction(conn):
                report.loaded["pricing-api"] = report.loaded.get("pricing-api", 0) + _load(
                    conn, run, ondemand.frame()
                )
                report.loaded["spot-history"] = report.loaded.get("spot-history", 0) + _load(
                    conn, run, spot
                )
                sink.set_watermark(conn, SOURCE, series, now)
    report.quarantined = run.quarantined
    return report


def import_overrides(conn: duckdb.DuckDBPyConnection, path: Path) -> PricesReport:
    """Load a price-override CSV as source='manual'; all rows or none (errors name the line)."""
    parsed = parse_overrides(path)
    if parsed.errors:
        raise UsageError(parsed.errors_message(str(path), verb="imported", sep="\n  "))
    known = {
        r[0] for r in conn.execute(store.load_sql("collect/prices_known_instance_types")).fetchall()
    }
    known |= set(snapshot_prices(None)["instance_type"].to_list())
    report = PricesReport(mode="import", note=f"overrides from {path}")
    unknown = sorted({r["instance_type"] for r in parsed.rows} - known)
    if unknown:
        report.unpriced["not a known instance type (check spelling)"] = unknown
    regions = {
        r[0] for r in conn.execute(store.load_sql("collect/prices_known_regions")).fetchall()
    }
    regions |= set(snapshot_prices(None)["region"].to_list())
    strange = sorted({r["region"] for r in parsed.rows} - regions)
    if strange:
        # Well-formed (checked per row) but neither in the shipped prices nor in this database:
        # AWS opens regions often, so a warning, not a refusal.
        report.warnings.append(
            f"warning: region(s) {', '.join(strange)} not known to costlab's price data or "
            "this database (check spelling)"
        )
    with sink.collection_run(conn, "import") as run, store.transaction(conn):
        report.loaded["manual"] = _load(conn, run, parsed.frame())
    report.quarantined = run.quarantined
    return report


def render(conn: duckdb.DuckDBPyConnection, report: PricesReport) -> Table:
    """A summary: what this run loaded, what is unpriced, and the table's content per source."""
    table = Table(title=f"EC2 prices ({report.mode})")
    for col in (
        "source",
        "capacity",
        "instance types",
        "zones",
        "rows",
        "first effective",
        "last effective",
    ):
        table.add_column(col)
    for row in conn.execute(store.load_sql("collect/prices_summary")).fetchall():
        table.add_row(
            *[str(v) for v in row[:5]], row[5].date().isoformat(), row[6].date().isoformat()
        )
    loaded = ", ".join(f"{k}: {v}" for k, v in report.loaded.items()) or "nothing"
    caption = [f"loaded {loaded}; quarantined {report.quarantined}"]
    if report.note:
        caption.append(report.note)
    for where, types in report.unpriced.items():
        caption.append(f"unpriced in {where}: {', '.join(types)}")
    for where, types in report.zero_priced.items():
        if types:
            caption.append(f"listed at $0 in {where} (not stored): {', '.join(types)}")
    caption.extend(report.warnings)
    table.caption = "\n".join(caption)
    return table


def collect_from_cli(
    db_path: Path, *, regions: list[str], snapshot: Path | None, console: Any = None
) -> Table:  # noqa: ARG001
    """`costlab collect prices [--region R ...] [--snapshot FILE]`."""
    settings = settings_for(PricesSettings, "prices", **({"regions": regions} if regions else {}))
    conn = store.connect(db_path)
    try:
        return render(conn, collect(conn, settings=settings, snapshot=snapshot))
    finally:
        conn.close()


def import_from_cli(db_path: Path, *, file: Path, console: Any = None) -> Table:  # noqa: ARG001
    """`costlab prices import FILE.csv`."""
    conn = store.connect(db_path)
    try:
        return render(conn, import_overrides(conn, file))
    finally:
        conn.close()
