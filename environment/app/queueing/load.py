"""The load of the experiments: one tenant floods, the others stay quiet (seeded, no clock).

Every message is ``(sent_at, tenant, number)`` in simulated seconds. Quiet tenants send as a
Poisson process at a steady rate; the noisy tenant sends at the same steady rate and, during the
flood window, at a much higher one. The random generator is seeded: the same arguments give the
same messages on every machine.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True, order=True)
class Message:
    sent_at: float
    tenant: str
    number: int  # unique within one load: the order of sending


@dataclass(frozen=True)
class Flood:
    """The noisy tenant sends ``rate`` extra messages per second from ``start`` to ``end``."""

    tenant: str
    rate: float
    start: float
    end: float


def _poisson(rng: random.Random, rate: float, start: float, end: float) -> list[float]:
    times, now = [], start
    while rate > 0:
        now += rng.expovariate(rate)
        if now >= end:
            return times
        times.append(now)
    return times


def noisy_load(tenants: Sequence[str], quiet_rate: float, flood: Flood, duration: float,
               seed: int) -> list[Message]:
    """Every tenant at ``quiet_rate`` messages/s for ``duration`` s, plus the flood; sorted.

    Each tenant draws from its own generator (seeded from the seed and its position), so adding
    a tenant does not move the others' messages.
    """
    timed: list[tuple[float, str]] = []
    for position, tenant in enumerate(tenants):
        rng = random.Random(f"{seed}/{position}")
        timed += [(at, tenant) for at in _poisson(rng, quiet_rate, 0.0, duration)]
        if tenant == flood.tenant:
            timed += [(at, tenant) for at in
                      _poisson(rng, flood.rate, flood.start, min(flood.end, duration))]
    timed.sort()
    return [Message(at, tenant, number) for number, (at, tenant) in enumerate(timed)]
