"""The offline EC2 price snapshot: list prices for air-gapped use and the demo.

The shipped snapshot is Karpenter's generated on-demand table for us-east-1 (see
costlab/data/NOTICE.md). A snapshot prices all history until a dated price from another source
supersedes it, so its rows take SNAPSHOT_EFFECTIVE_FROM rather than the day it was generated.
"""

from __future__ import annotations

from datetime import UTC, datetime
from importlib import resources
from pathlib import Path

import polars as pl

from costlab.errors import CollectorError

SNAPSHOT_EFFECTIVE_FROM = datetime(2000, 1, 1, tzinfo=UTC)
SNAPSHOT_FILE = "ec2_ondemand_prices_us_east_1.csv"


def shipped_snapshot() -> Path:
    return Path(str(resources.files("costlab.data").joinpath(SNAPSHOT_FILE)))


def snapshot_prices(path: Path | None = None) -> pl.DataFrame:
    """Rows for the `prices` table from a snapshot CSV.

    Accepts Karpenter's layout (region, instance_type, ondemand_usd_per_hour) or costlab's
    (instance_type, region, capacity_type, usd_per_hour[, zone]).
    """
    source = path or shipped_snapshot()
    try:
        raw = pl.read_csv(source, infer_schema_length=0)
    except (OSError, pl.exceptions.ComputeError) as exc:
        raise CollectorError(f"cannot read price snapshot {source}: {exc}") from exc
    if "ondemand_usd_per_hour" in raw.columns:
        raw = raw.rename({"ondemand_usd_per_hour": "usd_per_hour"}).with_columns(
            pl.lit("on-demand").alias("capacity_type")
        )
    missing = {"instance_type", "region", "capacity_type", "usd_per_hour"} - set(raw.columns)
    if missing:
        raise CollectorError(
            f"price snapshot {source} lacks column(s): {', '.join(sorted(missing))}"
        )
    if path is None:  # the shipped file, checked by tests/badinput/test_snapshot_import.py
        return raw.select(
            pl.col("instance_type"),
            pl.col("region"),
            (pl.col("zone").fill_null("") if "zone" in raw.columns else pl.lit("")).alias("zone"),
            pl.col("capacity_type"),
            pl.lit("snapshot").alias("source"),
            pl.lit(SNAPSHOT_EFFECTIVE_FROM).alias("effective_from"),
            usd_micros_expr(pl.col("usd_per_hour")).alias("usd_micros_per_hour"),
        )
    return _checked(source, raw)


def _checked(source: Path, raw: pl.DataFrame) -> pl.DataFrame:
    """A user's snapshot, row by row under the override import's rules (prices costlab cannot
    store, malformed zones, one key priced twice), so no price is stored as $0 or truncated."""
    from costlab.collect.ec2.price_import import ParsedOverrides, check_record

    parsed = ParsedOverrides()
    seen: dict[tuple, tuple[int, str]] = {}
    columns = [c for c in ("instance_type", "region", "capacity_type", "usd_per_hour", "zone")]
    for line, rec in enumerate(
        raw.select(c for c in columns if c in raw.columns).iter_rows(named=True), start=2
    ):
        check_record({k: v or "" for k, v in rec.items()}, line, seen, parsed)
    if parsed.errors:
        raise CollectorError(
            parsed.errors_message(f"price snapshot {source}", verb="loaded", sep="; ")
        )
    return parsed.frame().with_columns(pl.lit("snapshot").alias("source"))


def usd_micros_expr(usd_text: pl.Expr) -> pl.Expr:
    """Decimal text dollars to integer micro-dollars without passing through float."""
    return (usd_text.cast(pl.Decimal(18, 6)) * 1_000_000).cast(pl.Int64)
