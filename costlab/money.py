"""Exact money: integer micro-dollars, and splits whose parts always sum to the whole."""

from __future__ import annotations

import math
from collections.abc import Sequence
from decimal import ROUND_HALF_EVEN, Decimal
from fractions import Fraction

MICROS_PER_USD = 1_000_000


def usd_to_micros(usd: float | str | Decimal) -> int:
    """Dollars (as text, Decimal or float) to integer micro-dollars, rounded half-even."""
    return int((Decimal(str(usd)) * MICROS_PER_USD).quantize(Decimal(1), rounding=ROUND_HALF_EVEN))


def micros_to_usd(micros: int) -> Decimal:
    return Decimal(int(micros)) / MICROS_PER_USD


def split_micros(total: int, weights: Sequence[float | Fraction]) -> list[int]:
    """Split `total` micro-dollars by `weights` with largest-remainder rounding.

    The parts sum to `total` exactly. Ties in the remainder go to the earlier weight, which is
    the same rule the SQL engine uses (ordered by key), so both agree row for row.
    """
    if total < 0:
        raise ValueError("total must be >= 0")
    exact_weights = [Fraction(w) if not isinstance(w, Fraction) else w for w in weights]
    weight_sum = sum(exact_weights, Fraction(0))
    if not weights or weight_sum <= 0:
        raise ValueError("weights must contain a positive value")
    exact = [total * w / weight_sum for w in exact_weights]
    floors = [math.floor(x) for x in exact]
    short = total - sum(floors)
    order = sorted(range(len(weights)), key=lambda i: (-(exact[i] - floors[i]), i))
    for i in order[:short]:
        floors[i] += 1
    return floors
