"""Price timelines integrated over node intervals, vectorised per price key."""

from __future__ import annotations

import numpy as np
import polars as pl

MICROS = 1_000_000.0


class PriceBook:
    """Step-function prices per (instance_type, region, zone, capacity_type) key.

    `cost(keys, starts, ends)` integrates the price over [start, end) seconds and returns USD; a
    period before a key's first price uses that first price (stated as an assumption by callers).
    Lookups try the exact zone, then the region-wide price (zone '').
    """

    def __init__(self, periods: pl.DataFrame) -> None:
        self._series: dict[
            tuple[str, str, str, str], tuple[np.ndarray, np.ndarray, np.ndarray]
        ] = {}
        if periods.height == 0:
            return
        for key, part in periods.sort("from_s").group_by(
            ["instance_type", "region", "zone", "capacity_type"], maintain_order=True
        ):
            frm = part["from_s"].to_numpy().astype(np.float64)
            usd_h = part["usd_micros_per_hour"].to_numpy().astype(np.float64) / MICROS
            cum = np.concatenate([[0.0], np.cumsum(usd_h[:-1] * np.diff(frm) / 3600.0)])
            self._series[tuple(str(k) for k in key)] = (frm, usd_h, cum)  # type: ignore[index]

    def resolve(self, instance_type: str, region: str, zone: str, capacity_type: str):
        for z in (zone, ""):
            found = self._series.get((instance_type, region, z, capacity_type))
            if found is not None:
                return found
        return None

    def has(self, instance_type: str, region: str, zone: str, capacity_type: str) -> bool:
        return self.resolve(instance_type, region, zone, capacity_type) is not None

    def integrate(
        self,
        instance_type: str,
        region: str,
        zone: str,
        capacity_type: str,
        starts: np.ndarray,
        ends: np.ndarray,
    ) -> np.ndarray | None:
        """USD for each [start, end) second interval, or None when the key has no price."""
        series = self.resolve(instance_type, region, zone, capacity_type)
        if series is None:
            return None
        frm, usd_h, cum = series

        def area(x: np.ndarray) -> np.ndarray:
            k = np.clip(np.searchsorted(frm, x, side="right") - 1, 0, len(frm) - 1)
            return cum[k] + usd_h[k] * (x - frm[k]) / 3600.0

        return area(ends.astype(np.float64)) - area(starts.astype(np.float64))

    def integrate_other_zones(
        self,
        instance_type: str,
        region: str,
        capacity_type: str,
        starts: np.ndarray,
        ends: np.ndarray,
    ) -> np.ndarray | None:
        """USD per interval at the mean of the type's zone prices elsewhere in the region.

        The fallback when a node's own zone (and the region-wide row) has no price: the same
        instance type in the region's other zones, averaged; None when no zone has one.
        """
        zones = sorted(
            z
            for (t, r, z, c) in self._series
            if (t, r, c) == (instance_type, region, capacity_type) and z != ""
        )
        parts = [
            self.integrate(instance_type, region, z, capacity_type, starts, ends) for z in zones
        ]
        found = [p for p in parts if p is not None]
        return np.mean(found, axis=0) if found else None


def snapshot_ondemand(catalog: pl.DataFrame, region: str, instance_type: str) -> float | None:
    """The shipped us-east-1 list price for an instance type (USD/h), when the region matches."""
    if region != "us-east-1" or "ondemand_usd_per_hour" not in catalog.columns:
        return None
    row = catalog.filter(pl.col("instance_type") == instance_type)
    if row.height == 0 or row["ondemand_usd_per_hour"][0] is None:
        return None
    return float(row["ondemand_usd_per_hour"][0])
