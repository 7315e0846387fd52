"""Move the clock learner code reads forward for one case, without waiting.

A verifier or middleware that caches results by token string answers from its
cache after the token has expired. Showing that needs a token that is valid
when first seen and expired when seen again. Waiting for it would make the
check slow and timing-dependent (and a verifier with a leeway would need a
wait longer than the leeway), so the check moves clocks instead: the one
PyJWT validates ``exp`` with (``datetime.now`` in ``jwt.api_jwt``),
``time.time``, and every clock the learner's own functions can name in their
module globals (``datetime``, ``time``, ``time.monotonic`` and friends, however
they were imported), so a cache that honours ``exp`` with any of those clocks
expires and a cache that ignores ``exp`` does not. The process-wide monotonic
clock (timeouts, PyJWT's JWKS cache) and the ``datetime`` class botocore signs
requests with are left alone.

Learner code that verifies with PyJWT sees the future; the check first proves
that with a token it has never shown (a correct verifier must refuse it), and
skips the cache case when it is not so (another JWT library, say).
"""

from __future__ import annotations

import datetime as datetime_module
import functools
import inspect
import time
import types
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta, tzinfo
from typing import Any

import jwt.api_jwt as pyjwt_claims

LATER_S = 3 * 24 * 3600  # three days: past any token's exp plus any sane leeway
SECOND_CLOCKS = ("time", "monotonic", "perf_counter")
NANO_CLOCKS = ("time_ns", "monotonic_ns", "perf_counter_ns")


def can_move() -> bool:
    return isinstance(getattr(pyjwt_claims, "datetime", None), type)


def _later_class(real: type, seconds: float) -> type:
    class Later(real):  # type: ignore[misc, valid-type]
        @classmethod
        def now(cls, tz: tzinfo | None = None) -> datetime:
            return real.now(tz) + timedelta(seconds=seconds)

        @classmethod
        def utcnow(cls) -> datetime:
            return real.now(datetime_module.UTC).replace(tzinfo=None) + timedelta(
                seconds=seconds)

        @classmethod
        def today(cls) -> datetime:
            return cls.now()

    Later.__name__ = Later.__qualname__ = "datetime"
    return Later


class _Shifted(types.ModuleType):
    """A module that answers like ``real`` except for the names it overrides."""

    def __init__(self, real: types.ModuleType, overrides: dict[str, Any]) -> None:
        super().__init__(real.__name__, real.__doc__)
        self.__dict__.update(overrides)
        self._real = real

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)


def _ahead(base: Callable[[], Any], by: float) -> Callable[[], Any]:
    return lambda: base() + by


def _shifted_clocks(seconds: float, real_time: Callable[[], float]) -> dict[str, Any]:
    clocks: dict[str, Any] = {}
    for name in SECOND_CLOCKS:
        clocks[name] = _ahead(real_time if name == "time" else getattr(time, name), seconds)
    for name in NANO_CLOCKS:
        clocks[name] = _ahead(getattr(time, name), int(seconds * 1e9))
    return clocks


def learner_globals(fns: Iterable[Any]) -> list[dict[str, Any]]:
    """The module namespaces the learner's functions read their globals from."""
    found: dict[int, dict[str, Any]] = {}
    for fn in fns:
        try:
            fn = inspect.unwrap(fn)
        except ValueError:
            pass
        fn = getattr(fn, "__func__", fn)
        fn = fn.func if isinstance(fn, functools.partial) else fn
        namespace = getattr(fn, "__globals__", None)
        if isinstance(namespace, dict) and namespace is not vars(time):
            found[id(namespace)] = namespace
    return list(found.values())


@contextmanager
def clock_ahead(seconds: float = LATER_S, fns: Iterable[Any] = ()) -> Iterator[None]:
    """Within the block, PyJWT, ``time.time()`` and the clocks ``fns`` see live ahead."""
    real_datetime, real_time = pyjwt_claims.datetime, time.time
    later = _later_class(real_datetime, seconds)
    clocks = _shifted_clocks(seconds, real_time)
    module_datetime = _Shifted(datetime_module, {"datetime": later})
    module_time = _Shifted(time, clocks)
    by_identity: dict[int, Any] = {id(datetime_module): module_datetime, id(time): module_time,
                                   id(real_datetime): later}
    by_identity.update({id(getattr(time, name)): clock for name, clock in clocks.items()})
    patched: list[tuple[dict[str, Any], str, Any]] = []
    for namespace in learner_globals(fns):
        for name, value in list(namespace.items()):
            if id(value) in by_identity:
                patched.append((namespace, name, value))
                namespace[name] = by_identity[id(value)]
    pyjwt_claims.datetime = later
    time.time = clocks["time"]
    try:
        yield
    finally:
        pyjwt_claims.datetime, time.time = real_datetime, real_time
        for namespace, name, value in reversed(patched):
            if namespace.get(name) is by_identity[id(value)]:
                namespace[name] = value
