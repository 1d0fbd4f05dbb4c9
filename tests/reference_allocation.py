"""A slow, obviously correct allocation in plain Python, for differential tests.

Exact fractions throughout; one price source (manual) per instance type with optional changes;
whole-GPU requests. Returns {(hour_start, node, namespace, pod): micro-dollars}.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction

from costlab.money import split_micros

HOUR = timedelta(hours=1)


def ms(delta: timedelta) -> int:
    return int(delta.total_seconds() * 1000)


def reference(nodes, pods, prices, start: datetime, end: datetime) -> dict:
    """nodes: (name, type, gpus, start, end); pods: (ns, pod, node, start, end, gpus);
    prices: {type: [(effective_from, micros_per_hour), ...]}."""
    out: dict = defaultdict(int)
    hour = start
    while hour < end:
        hour_end = hour + HOUR
        for name, itype, gpus, n_start, n_end in nodes:
            lo, hi = max(n_start, hour), min(n_end, hour_end)
            if hi <= lo:
                continue
            timeline = sorted(prices[itype])
            for i, (since, micros) in enumerate(timeline):
                until = timeline[i + 1][0] if i + 1 < len(timeline) else hi
                s_lo, s_hi = max(lo, since), min(hi, until)
                if s_hi <= s_lo:
                    continue
                cost = int(
                    (Decimal(micros) * ms(s_hi - s_lo) / 3_600_000).quantize(
                        Decimal(1), ROUND_HALF_UP
                    )
                )
                claims = defaultdict(Fraction)
                for ns, pod, p_node, p_start, p_end, p_gpus in pods:
                    o_lo, o_hi = max(p_start, s_lo), min(p_end, s_hi)
                    if p_node == name and o_hi > o_lo:
                        claims[(ns, pod)] += p_gpus * ms(o_hi - o_lo)
                capacity = gpus * ms(s_hi - s_lo)
                claimed = sum(claims.values(), Fraction(0))
                scale = min(Fraction(1), Fraction(capacity) / claimed) if claimed else Fraction(1)
                weights = {k: v * scale for k, v in claims.items()}
                idle = max(capacity - claimed, 0) if gpus else ms(s_hi - s_lo)
                if idle > 0:
                    weights[("__idle__", "__idle__")] = Fraction(idle)
                keys = sorted(k for k, w in weights.items() if w > 0)
                for key, part in zip(
                    keys, split_micros(cost, [weights[k] for k in keys]), strict=True
                ):
                    out[(hour, name, *key)] += part
        hour = hour_end
    return dict(out)
