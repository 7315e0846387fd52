"""Run learner code in this process as if strings hashed like in another process.

``hash()`` of a ``str`` or ``bytes`` is salted per process: a placement built on it
moves every tenant at the next deployment. Asking a fresh process is the sound test
(``fresh_process``), but it can only run what it can ship; a function that also reads
a global the kit cannot rebuild there would go unjudged. So, like ``clock.clock_ahead``
moves the clocks learner code names, ``hash_resalted`` gives the learner's module
globals a ``hash`` that salts strings and bytes differently (and leaves numbers, whose
hashes do not depend on the process, alone), and the check calls the function with real
``str`` arguments: a strict ``type(tenant_id) is str`` stays happy.
"""

from __future__ import annotations

import builtins
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from .clock import learner_globals

_REAL_HASH = builtins.hash


def _resalted(value: Any) -> Any:
    if isinstance(value, str):
        return ("resalted", str(value)[::-1])
    if isinstance(value, bytes):
        return (b"resalted", bytes(value)[::-1])
    if isinstance(value, tuple):
        return tuple(_resalted(item) for item in value)
    if isinstance(value, frozenset):
        return frozenset(_resalted(item) for item in value)
    return value


def salted_hash(value: Any) -> int:
    """``hash(value)`` as another process's salt would give it for strings and bytes."""
    return _REAL_HASH(_resalted(value))


@contextmanager
def hash_resalted(fns: Iterable[Any]) -> Iterator[None]:
    """Within the block, ``hash`` in the modules of ``fns`` salts strings differently."""
    patched = []
    for namespace in learner_globals(fns):
        if "hash" not in namespace:  # a learner's own ``hash`` is theirs
            namespace["hash"] = salted_hash
            patched.append(namespace)
    try:
        yield
    finally:
        for namespace in patched:
            if namespace.get("hash") is salted_hash:
                del namespace["hash"]
