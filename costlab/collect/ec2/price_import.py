"""Price overrides from a CSV (negotiated rates, Savings Plans, reserved): source='manual'.

Columns: instance_type,region,capacity_type,usd_per_hour[,zone,effective_from]. The whole file
is checked first; any bad row stops the import with an error naming its line, so a file is
either loaded completely or not at all. A missing effective_from means "for all history".
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import polars as pl

from costlab.collect.ec2.pricing_api import PRICES_SCHEMA
from costlab.collect.ec2.snapshot import SNAPSHOT_EFFECTIVE_FROM
from costlab.errors import UsageError
from costlab.money import usd_to_micros
from costlab.timeutil import parse_ts

REQUIRED = ("instance_type", "region", "capacity_type", "usd_per_hour")
OPTIONAL = ("zone", "effective_from")
CAPACITY_TYPES = ("on-demand", "spot", "reserved")
_INSTANCE_TYPE = re.compile(r"^[a-z][a-z0-9-]*\.[a-z0-9-]+$")
_REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d+$")
# An availability zone is its region plus a letter (us-east-1a); Local and Wavelength Zones add
# a dashed suffix (us-east-1-bos-1a, us-east-1-wl1-bos-wlz-1).
_ZONE_SUFFIX = re.compile(r"^([a-z]|-[a-z0-9]+(-[a-z0-9]+)*)$")
MAX_REPORTED = 20
# Prices are stored as integer micro-dollars per hour.
MIN_USD_PER_HOUR = Decimal("0.000001")
# Above any EC2 price (the largest instances list at a few hundred $/h): a larger number is a unit
# mistake, and keeps hour x price sums far inside the int64 micro-dollar columns.
MAX_USD_PER_HOUR = Decimal(10_000)
# Python's csv default (128 KiB); no field of a price row comes close.
MAX_FIELD = 131_072


@dataclass
class ParsedOverrides:
    rows: list[dict[str, Any]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def frame(self) -> pl.DataFrame:
        return pl.DataFrame(self.rows, schema=PRICES_SCHEMA)

    def errors_message(self, head: str, *, verb: str, sep: str) -> str:
        """`head: N bad row(s), nothing <verb>:` and the first MAX_REPORTED errors, each after
        `sep` (a line break and indent for the CLI, `; ` for a one-line collector error)."""
        shown = self.errors[:MAX_REPORTED]
        more = len(self.errors) - len(shown)
        return (
            f"{head}: {len(self.errors)} bad row(s), nothing {verb}:{sep.lstrip(';')}"
            + sep.join(shown)
            + (f"{sep}... and {more} more" if more else "")
        )


def _cut(value: str, limit: int = 40) -> str:
    """A field for an error line, cut when it is long (a stray blob in a CSV)."""
    return value if len(value) <= limit else value[:limit] + "..."


def _short(value: str) -> str:
    return repr(_cut(value))


def _check_row(rec: dict[str, str]) -> tuple[dict[str, Any] | None, str | None]:
    itype = (rec.get("instance_type") or "").strip()
    region = (rec.get("region") or "").strip()
    capacity = (rec.get("capacity_type") or "").strip()
    price = (rec.get("usd_per_hour") or "").strip()
    zone = (rec.get("zone") or "").strip()
    when = (rec.get("effective_from") or "").strip()
    if not _INSTANCE_TYPE.match(itype):
        return (
            None,
            f"instance_type {_short(itype)} is not an EC2 instance type (e.g. p4d.24xlarge)",
        )
    if not _REGION.match(region):
        return None, f"region {_short(region)} is not an AWS region (e.g. us-east-1)"
    if capacity not in CAPACITY_TYPES:
        return None, f"capacity_type {_short(capacity)} must be one of {', '.join(CAPACITY_TYPES)}"
    try:
        usd = Decimal(price)
    except InvalidOperation:
        return None, f"usd_per_hour {_short(price)} is not a number"
    if not usd.is_finite() or usd <= 0:
        return (
            None,
            f"usd_per_hour {_short(price)} must be a positive price (omit the row instead of $0)",
        )
    if usd < MIN_USD_PER_HOUR:
        return None, f"price {_cut(price)} is below costlab's resolution of $0.000001/h"
    if usd > MAX_USD_PER_HOUR:
        return None, (
            f"usd_per_hour {_cut(price)} is above costlab's limit of ${MAX_USD_PER_HOUR:,}/h "
            "(no EC2 instance costs that much; check the units)"
        )
    if zone and not (zone.startswith(region) and _ZONE_SUFFIX.match(zone[len(region) :])):
        return None, f"zone {_short(zone)} is not an availability zone of {region} (e.g. {region}a)"
    try:
        effective = parse_ts(when) if when else SNAPSHOT_EFFECTIVE_FROM
    except UsageError as exc:
        return None, f"effective_from: {exc}"
    row = {
        "instance_type": itype,
        "region": region,
        "zone": zone,
        "capacity_type": capacity,
        "source": "manual",
        "effective_from": effective,
        "usd_micros_per_hour": usd_to_micros(usd),
    }
    return row, None


def check_record(
    rec: dict[str, str], line: int, seen: dict[tuple, tuple[int, str]], out: ParsedOverrides
) -> None:
    """Check one price record (file line `line`) into `out`: a row, or an error naming the line.
    `seen` carries the keys of earlier rows, so one key priced twice differently is an error."""
    row, error = _check_row(rec)
    if row is None:
        out.errors.append(f"line {line}: {error}")
        return
    conflict = _conflict(seen, row, line, (rec.get("usd_per_hour") or "").strip())
    if conflict:
        out.errors.append(conflict)
    else:
        out.rows.append(row)


def parse_overrides(path: Path) -> ParsedOverrides:
    """Check every line of an overrides CSV; rows and errors ("line N: why") in file order."""
    out = ParsedOverrides()
    seen: dict[tuple, tuple[int, str]] = {}  # price key -> (line, usd_per_hour text)
    if path.is_dir():
        raise UsageError(f"cannot read {path}: it is a folder, not a CSV file")
    reader: csv.DictReader | None = None
    try:
        # utf-8-sig: spreadsheet programs start their CSV exports with a byte-order mark
        with path.open(newline="", encoding="utf-8-sig") as fh:
            reader = csv.DictReader(fh)
            header = [h.strip() for h in (reader.fieldnames or [])]
            missing = [c for c in REQUIRED if c not in header]
            if missing:
                raise UsageError(f"{path}: line 1: header lacks column(s) {', '.join(missing)}")
            unknown = [c for c in header if c not in REQUIRED + OPTIONAL]
            if unknown:
                raise UsageError(f"{path}: line 1: unknown column(s) {', '.join(unknown)}")
            reader.fieldnames = header
            for rec in reader:
                if not any((v or "").strip() for v in rec.values() if isinstance(v, str)):
                    continue  # blank line
                line = reader.line_num
                if None in rec:
                    out.errors.append(f"line {line}: more fields than the header has")
                    continue
                check_record(rec, line, seen, out)
    except csv.Error as exc:
        where = f"near line {reader.line_num + 1}: " if reader is not None else ""
        if "field larger than field limit" in str(exc):
            raise UsageError(
                f"{path}: {where}a field is longer than {MAX_FIELD // 1024} KiB; "
                "is this a price CSV?"
            ) from None
        raise UsageError(f"{path}: {where}not a readable CSV: {exc}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"cannot read {path}: {exc}") from None
    return out


def _conflict(
    seen: dict[tuple, tuple[int, str]], row: dict[str, Any], line: int, price: str
) -> str | None:
    """An error when an earlier row set another price for the same key (else last would win)."""
    key = (
        row["instance_type"],
        row["region"],
        row["zone"],
        row["capacity_type"],
        row["effective_from"],
    )
    first = seen.setdefault(key, (line, price))
    if first[0] == line or usd_to_micros(first[1]) == row["usd_micros_per_hour"]:
        return None  # a repeated identical row says the same thing twice
    itype, region, zone, capacity, effective = key
    return (
        f"line {line}: {itype} {capacity} in {zone or region} from {effective.isoformat()} "
        f"is priced twice: {first[1]} (line {first[0]}) and {price}; keep one"
    )
