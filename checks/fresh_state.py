"""Run a learner function twice from the same state, to see whether its output is made or drawn.

An id made by a counter, a seeded generator or the clock looks random as a string (hash it and
no statistic tells), but it is a function of the program's state: start twice from the same
state and it comes out the same. So the learner's function is cloned twice, with its state
copied (closure cells and the globals it names, deep-copied; nested notebook functions cloned
the same way) and the clock frozen, and each clone is called once. ``uuid4()``, ``secrets``
and ``os.urandom`` draw from the operating system and differ; ``next(counter)``,
``random.Random(42)`` and ``sha256(str(time.time()))`` repeat. The original function and its
state are left as they were.
"""

from __future__ import annotations

import copy
import time
import types
from collections.abc import Callable
from typing import Any

FROZEN_AT = 1_700_000_000.0  # the frozen clock: any fixed moment does
_CLOCKS = ("time", "time_ns", "monotonic", "monotonic_ns", "perf_counter", "perf_counter_ns")


class _FrozenTime(types.ModuleType):
    """The ``time`` module with its clocks stopped (everything else is the real module's)."""

    def __init__(self) -> None:
        super().__init__("time")

    def __getattr__(self, name: str) -> Any:
        if name in _CLOCKS:
            return _frozen(getattr(time, name))
        return getattr(time, name)


def _frozen(clock: Callable[[], Any]) -> Callable[[], Any]:
    value = int(FROZEN_AT * 1e9) if clock.__name__.endswith("_ns") else FROZEN_AT
    return lambda: value


def _learners(fn: Any) -> bool:
    """A function written in a notebook or a test (whose state is the learner's)."""
    return isinstance(fn, types.FunctionType) and (
        fn.__module__ in ("__main__", "__notebook__") or "<locals>" in fn.__qualname__)


def _copied(value: Any, memo: dict[int, Any]) -> Any:
    if id(value) in memo:
        return memo[id(value)]
    if value is time:
        return _FrozenTime()
    if callable(value) and getattr(value, "__module__", None) == "time" \
            and getattr(value, "__name__", "") in _CLOCKS:
        return _frozen(value)
    if _learners(value):
        return clone(value, memo)
    if isinstance(value, types.ModuleType | type | types.BuiltinFunctionType
                  | types.FunctionType):
        return value
    try:
        copied = copy.deepcopy(value)
    except Exception:  # noqa: BLE001 - a client, a lock: shared, as it is in the original
        copied = value
    memo[id(value)] = copied
    return copied


def clone(fn: types.FunctionType, memo: dict[int, Any] | None = None) -> types.FunctionType:
    """``fn`` with a copy of the state it reads, and the clock frozen."""
    memo = {} if memo is None else memo
    if id(fn) in memo:
        return memo[id(fn)]
    namespace = dict(fn.__globals__)
    twin = types.FunctionType(fn.__code__, namespace, fn.__name__, fn.__defaults__,
                              tuple(types.CellType() for _ in fn.__code__.co_freevars))
    memo[id(fn)] = twin
    twin.__kwdefaults__ = fn.__kwdefaults__
    for name in _names(fn.__code__):
        if name in namespace:
            namespace[name] = _copied(namespace[name], memo)
    for cell, original in zip(twin.__closure__ or (), fn.__closure__ or (), strict=True):
        try:
            cell.cell_contents = _copied(original.cell_contents, memo)
        except ValueError:  # an empty cell (a name assigned later)
            pass
    return twin


def _names(code: types.CodeType) -> set[str]:
    found = set(code.co_names)
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            found |= _names(const)
    return found


def twins(fn: Callable) -> tuple[Callable, Callable] | None:
    """Two clones of ``fn`` from the same state, or None when ``fn`` is not plain Python."""
    if not isinstance(fn, types.FunctionType):
        return None
    return clone(fn), clone(fn)
