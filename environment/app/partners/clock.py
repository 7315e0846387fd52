"""A simulated clock: time moves only when someone waits on it, never on the wall.

Backoff sleeps, the partner's latency and its outage windows all read this clock, so a
scenario with a 60-second outage and 30-second hangs runs in milliseconds and gives the same
timeline on every machine and every run.
"""

from __future__ import annotations

import threading


class SimulatedClock:
    """Seconds since the scenario began; ``sleep`` and ``advance`` move it, nothing else does."""

    def __init__(self, start: float = 0.0) -> None:
        self._now = float(start)
        self._lock = threading.Lock()
        self.sleeps: list[tuple[float, float]] = []  # (when, how long): what callers waited

    def now(self) -> float:
        with self._lock:
            return self._now

    def sleep(self, seconds: float) -> None:
        """What a retry loop calls instead of ``time.sleep``: the clock moves, nobody waits."""
        if not isinstance(seconds, int | float) or seconds != seconds or seconds < 0:
            raise ValueError(f"sleep() takes a number of seconds >= 0, not {seconds!r}")
        with self._lock:
            self.sleeps.append((self._now, float(seconds)))
            self._now += float(seconds)

    def advance(self, seconds: float) -> None:
        """Time passing for other reasons (a call in flight, a pause between phases)."""
        if seconds < 0:
            raise ValueError("the clock does not go backwards")
        with self._lock:
            self._now += float(seconds)

    def advance_to(self, when: float) -> None:
        with self._lock:
            self._now = max(self._now, float(when))
