"""Display formatting: one place for units ($ with 2 decimals, GPU-hours, percentages).

Formatting only converts a value already computed in SQL to text; no money arithmetic here.
"""

from __future__ import annotations

import math
from typing import Any

from costlab.money import micros_to_usd


def _missing(value: Any) -> bool:
    if value is None:
        return True
    try:
        return bool(value != value) or (
            isinstance(value, float) and math.isnan(value)
        )  # NaN, pd.NA
    except TypeError:  # pd.NA refuses bool()
        return True


def usd(micros: Any) -> str:
    """Integer micro-dollars -> '$1,234.56' (exact, via Decimal); '-' when missing."""
    if _missing(micros):
        return "-"
    value = micros_to_usd(int(micros))
    sign = "-" if value < 0 else ""
    return f"{sign}${abs(value):,.2f}"


def usd_delta(micros: Any) -> str:
    """Signed micro-dollars -> '+$12.00' / '-$3.50', for st.metric deltas."""
    if _missing(micros):
        return "-"
    return ("+" if int(micros) >= 0 else "") + usd(micros)


def gpu_hours(value: Any) -> str:
    return "-" if _missing(value) else f"{float(value):,.1f} GPU-h"


def pct(ratio: Any, digits: int = 1) -> str:
    return "-" if _missing(ratio) else f"{100 * float(ratio):.{digits}f}%"


def tokens(value: Any) -> str:
    if _missing(value):
        return "-"
    v = float(value)
    for unit, size in (("B", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(v) >= size:
            return f"{v / size:,.2f}{unit}"
    return f"{v:,.0f}"


# st.dataframe column formats (printf style), shared by every page.
USD_FORMAT = "$%.2f"
USD_PER_1M_FORMAT = "$%.3f"
GPU_HOURS_FORMAT = "%.1f"
RATIO_FORMAT = "%.1f%%"
