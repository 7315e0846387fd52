"""Notice learner code that sleeps on the wall clock where a simulated clock is the only one.

A gather on the simulated market must wait with ``market.clock.sleep``; a ``time.sleep`` beside
it makes the notebook slow and proves nothing. Within the block, the ``time`` module and
``time.sleep`` that the learner's functions name in their module globals (however they were
imported) record each call and return at once: the check never waits, and it can say so.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from .clock import _Shifted, learner_globals


@contextmanager
def wall_sleeps(fns: Iterable[Any]) -> Iterator[list[float]]:
    """Within the block, ``time.sleep`` as ``fns`` see it records its seconds and returns."""
    slept: list[float] = []

    def recorded(seconds: float) -> None:
        slept.append(seconds)

    module = _Shifted(time, {"sleep": recorded})
    by_identity = {id(time): module, id(time.sleep): recorded}
    patched: list[tuple[dict[str, Any], str, Any]] = []
    for namespace in learner_globals(fns):
        for name, value in list(namespace.items()):
            if id(value) in by_identity:
                patched.append((namespace, name, value))
                namespace[name] = by_identity[id(value)]
    try:
        yield slept
    finally:
        for namespace, name, value in reversed(patched):
            if namespace.get(name) is by_identity[id(value)]:
                namespace[name] = value
