"""What the partner does to each call: a pure function of a seeded scenario and the clock.

A scenario says how often the partner fails (503), how often it is slow (a latency longer than
any sensible client timeout), when it is down (outage windows on the simulated clock, during
which every call fails), and the first few outcomes outright (``script``), so a check can put
exactly two failures before a success (a scripted ``throttled`` answers 429, rate limited).
The n-th call's fate depends only on the seed and n.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Literal

Fate = Literal["ok", "error", "slow", "down", "throttled"]
FATES: tuple[str, ...] = ("ok", "error", "slow", "down", "throttled")  # throttled: 429


@dataclass(frozen=True)
class Scenario:
    seed: int = 0
    failure_rate: float = 0.0  # share of calls answered 503
    slow_rate: float = 0.0  # share of calls that take ``slow_latency`` (and still succeed)
    slow_latency: float = 30.0
    latency: tuple[float, float] = (0.05, 0.4)  # seconds, uniform, for ordinary calls
    outages: tuple[tuple[float, float], ...] = ()  # [start, end) on the clock: every call fails
    outage_latency: float = 30.0  # a partner that is down hangs before it fails
    script: tuple[str, ...] = ()  # the fates of the first calls, before the random ones
    limit: float = 10_000.0  # amounts above this are declined (402), whatever the fate

    def __post_init__(self) -> None:
        unknown = [fate for fate in self.script if fate not in FATES]
        if unknown:
            raise ValueError(f"unknown fates {unknown}; known: {FATES}")

    def down(self, now: float) -> bool:
        return any(start <= now < end for start, end in self.outages)

    def fate(self, call: int, now: float) -> tuple[Fate, float]:
        """The fate of call number ``call`` (0-based) made at ``now``, and its latency."""
        rng = random.Random(f"{self.seed}:{call}")
        latency = rng.uniform(*self.latency)
        if call < len(self.script):
            fate = self.script[call]
        elif self.down(now):
            fate = "down"
        else:
            draw = rng.random()
            fate = ("error" if draw < self.failure_rate
                    else "slow" if draw < self.failure_rate + self.slow_rate else "ok")
        if fate == "down":
            return "down", self.outage_latency
        if fate == "slow":
            return "slow", self.slow_latency
        return fate, latency  # type: ignore[return-value]

    def recovered(self) -> Scenario:
        """The same partner once it is healthy again: no failures, no slowness, no outages."""
        return Scenario(seed=self.seed, latency=self.latency, limit=self.limit)
