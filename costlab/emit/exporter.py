"""`costlab exporter`: serve instance prices and tenant dollars from the database as metrics.

Metrics (all gauges, dollars as floats converted from stored micro-dollars):
- `costlab_instance_hourly_cost_usd{instance_type,capacity_type,region,zone}`: the price in force,
  resolved exactly as the allocation engine resolves it (PRICE_STAGES, then
  sql/emit/prices_in_force.sql); zone="" is a region-wide price. This is the series the common
  `... * on(instance_type) group_left() aws_ec2_instance_hourly_cost` recipe assumes exists.
- `costlab_gpu_hourly_cost_usd{...same labels}`: that price divided by the instance's GPUs.
- `costlab_tenant_allocated_cost_usd{cluster,tenant}` and `costlab_tenant_allocated_gpu_hours`:
  the last completed hour of the allocation table; `costlab_allocation_hour_start_timestamp_seconds`
  says which hour.
- `costlab_exporter_refresh_success` / `costlab_exporter_last_refresh_timestamp_seconds`.

The database is opened read-only, at most once per `refresh_seconds`, and closed right away, so a
collector can write between refreshes. If it cannot be read the last good values stay served and
`costlab_exporter_refresh_success` drops to 0.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
from prometheus_client import CollectorRegistry, start_http_server
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from costlab.errors import CostlabError
from costlab.money import MICROS_PER_USD
from costlab.store import load_sql

log = logging.getLogger(__name__)

PRICE_LABELS = ("instance_type", "capacity_type", "region", "zone")
TENANT_LABELS = ("cluster", "tenant")
# The engine's one price resolution (sql/allocate/price_periods.sql) over every key the prices
# table knows, as the simulator runs it: a second ranking here once drifted 11.8 % from what the
# allocation charged (issue #13). Temp tables work on a read-only connection.
PRICE_STAGES = ("simulate/price_keys", "allocate/price_periods")


class ExporterSettings(BaseSettings):
    """Where the exporter listens and how often it rereads the database."""

    model_config = SettingsConfigDict(env_prefix="COSTLAB_EXPORTER_", extra="forbid")

    # Loopback unless told otherwise: the metrics name tenants and their spend. A pod serving
    # its Service passes --address 0.0.0.0 (deploy/base/exporter.yaml).
    host: str = Field(
        default="127.0.0.1",
        description="Address to bind: 127.0.0.1 serves this machine only; 0.0.0.0 (or "
        "--address 0.0.0.0) every interface, e.g. in a pod behind a Service.",
    )
    refresh_seconds: float = Field(
        default=60, ge=0, le=3600, description="Reread the database at most this often."
    )


@dataclass(frozen=True)
class Snapshot:
    """What one read of the database yields; rows are plain tuples in a stable order."""

    prices: list[tuple[str, str, str, str, int, int | None]] = field(default_factory=list)
    tenants: list[tuple[str, str, int, float]] = field(default_factory=list)
    hour_start: datetime | None = None


def read_snapshot(conn: duckdb.DuckDBPyConnection, now: datetime) -> Snapshot:
    """Prices in force at `now` and tenant dollars of the last hour completed by `now`."""
    for stage in PRICE_STAGES:
        conn.execute(load_sql(stage))
    prices = [
        (it, ct, region, zone, int(micros), gpus)
        for it, region, zone, ct, micros, gpus in conn.execute(
            load_sql("emit/prices_in_force"), {"now": now}
        ).fetchall()
    ]
    tenant_rows = conn.execute(load_sql("emit/tenant_cost_last_hour"), {"now": now}).fetchall()
    tenants = [
        (cluster, tenant, int(micros), float(hours))
        for cluster, tenant, _h, micros, hours in tenant_rows
    ]
    hour_start = tenant_rows[0][2] if tenant_rows else None
    return Snapshot(prices=prices, tenants=tenants, hour_start=hour_start)


def snapshot_metrics(snap: Snapshot) -> list[Metric]:
    """Metric families for a snapshot, sorted by label values (pure)."""
    price = GaugeMetricFamily(
        "costlab_instance_hourly_cost_usd",
        "Instance price in force, USD per hour.",
        labels=PRICE_LABELS,
    )
    gpu = GaugeMetricFamily(
        "costlab_gpu_hourly_cost_usd",
        "Instance price per GPU, USD per GPU-hour.",
        labels=PRICE_LABELS,
    )
    for it, ct, region, zone, micros, gpus in sorted(snap.prices):
        labels = [it, ct, region, zone]
        price.add_metric(labels, micros / MICROS_PER_USD)
        if gpus:
            gpu.add_metric(labels, micros / MICROS_PER_USD / gpus)
    cost = GaugeMetricFamily(
        "costlab_tenant_allocated_cost_usd",
        "GPU dollars allocated to the tenant in the last completed hour of the allocation table.",
        labels=TENANT_LABELS,
    )
    hours = GaugeMetricFamily(
        "costlab_tenant_allocated_gpu_hours",
        "GPU-hours allocated to the tenant in the last completed hour of the allocation table.",
        labels=TENANT_LABELS,
    )
    for cluster, tenant, micros, gpu_hours in sorted(snap.tenants):
        cost.add_metric([cluster, tenant], micros / MICROS_PER_USD)
        hours.add_metric([cluster, tenant], gpu_hours)
    families: list[Metric] = [price, gpu, cost, hours]
    if snap.hour_start is not None:
        families.append(
            GaugeMetricFamily(
                "costlab_allocation_hour_start_timestamp_seconds",
                "Start of the hour the tenant allocation metrics describe, Unix seconds.",
                value=snap.hour_start.timestamp(),
            )
        )
    return families


class DatabaseCollector(Collector):
    """A prometheus-client collector that rereads the database at most every `refresh_seconds`."""

    def __init__(
        self,
        db_path: Path,
        *,
        refresh_seconds: float = 60,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.db_path = Path(db_path)
        self.refresh_seconds = refresh_seconds
        self.clock = clock
        self._lock = threading.Lock()
        self._snapshot = Snapshot()
        self._loaded_at: float | None = None
        self._success = False
        self._last_refresh_ts = 0.0

    def refresh(self) -> None:
        """Reread the database now; keep the old snapshot if it cannot be read."""
        from costlab import store

        try:
            # inside a scrape: a writer holding the file means serving the last values, not
            # outwaiting Prometheus' scrape timeout
            conn = store.connect(self.db_path, read_only=True, lock_timeout=2.0)
            try:
                snap = read_snapshot(conn, self.clock())
            finally:
                conn.close()
        except (CostlabError, duckdb.Error) as exc:
            log.warning("cannot read %s, serving the last good values: %s", self.db_path, exc)
            self._success = False
        else:
            self._snapshot = snap
            self._success = True
            self._last_refresh_ts = self.clock().timestamp()
        self._loaded_at = time.monotonic()

    def collect(self) -> Iterator[Metric]:
        with self._lock:
            stale = (
                self._loaded_at is None
                or time.monotonic() - self._loaded_at >= self.refresh_seconds
            )
            if stale:
                self.refresh()
            families = snapshot_metrics(self._snapshot)
            ok = 1.0 if self._success else 0.0
            last = self._last_refresh_ts
        yield from families
        yield GaugeMetricFamily(
            "costlab_exporter_refresh_success",
            "1 if the last database read worked, else 0.",
            value=ok,
        )
        yield GaugeMetricFamily(
            "costlab_exporter_last_refresh_timestamp_seconds",
            "When the database was last read successfully, Unix seconds (0 = never).",
            value=last,
        )


def make_server(
    db_path: Path, *, port: int, settings: ExporterSettings | None = None
) -> tuple[Any, Any]:
    """Serve /metrics from a background thread; returns (server, thread): stop with shutdown()."""
    settings = settings or ExporterSettings()
    registry = CollectorRegistry(auto_describe=False)
    registry.register(DatabaseCollector(db_path, refresh_seconds=settings.refresh_seconds))
    server, thread = start_http_server(port, addr=settings.host, registry=registry)
    return server, thread


def serve_from_cli(db_path: Path, *, port: int, console: Any, address: str | None = None) -> None:
    """`costlab exporter --port P [--address A]`: serve until interrupted."""
    from costlab import store
    from costlab.config import settings_for

    settings = settings_for(ExporterSettings, "exporter", **({"host": address} if address else {}))
    store.connect(db_path, read_only=True).close()  # fail fast (exit 2) on a missing database
    server, _thread = make_server(db_path, port=port, settings=settings)
    console.print(
        "serving costlab metrics on "
        f"http://{settings.host}:{port}/metrics from {db_path} (read-only)"
    )
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.shutdown()
