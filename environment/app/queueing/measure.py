"""What the quiet tenants feel: percentiles of their messages' queueing delay.

Percentiles are nearest-rank (a value that some message really waited), so they are exact and
the same on every machine; no interpolation between two messages' delays.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from .model import Run


def percentile(values: Sequence[float], q: float) -> float:
    """The nearest-rank ``q``-th percentile (0 < q <= 100) of ``values``; 0.0 for none."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]


@dataclass(frozen=True)
class Summary:
    strategy: str
    p50: float  # seconds
    p99: float
    sent: int
    served: int

    def row(self) -> str:
        return (f"{self.strategy:<24} {self.p50 * 1000:>9.1f} {self.p99 * 1000:>10.1f} "
                f"{self.sent:>7} {self.served:>7}")


HEADER = f"{'strategy':<24} {'p50 (ms)':>9} {'p99 (ms)':>10} {'sent':>7} {'served':>7}"


def summarise(strategy: str, run: Run, quiet: Sequence[str]) -> Summary:
    """p50 and p99 of the quiet tenants' delays; every tenant's messages sent and served."""
    delays = run.delays(quiet)
    return Summary(strategy, percentile(delays, 50), percentile(delays, 99),
                   sum(run.sent().values()), len(run.served))
