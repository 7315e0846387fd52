"""Call a learner function in a fresh Python process, to see what it depends on.

A shard picked with ``hash()`` is stable inside one process and different in
the next one (string hashes are salted per process), so a writer and a reader
in two processes disagree. The only sound test is to ask another process: the
function's source is shipped with what it needs from its globals (modules,
importable names, other learner functions, plain constants) and run under
another ``PYTHONHASHSEED``. When something cannot be shipped faithfully the
answer is None and the check says it could not look, rather than guess.
"""

from __future__ import annotations

import ast
import inspect
import json
import os
import subprocess
import sys
import textwrap
import types
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent  # so the kit's own modules import there too
PROBE = "saas-lab-kit-hash-probe"


class CannotShip(Exception):
    pass


def _names(code: types.CodeType) -> set[str]:
    found = set(code.co_names)
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            found |= _names(const)
    return found


def _is_literal(value: Any) -> bool:
    try:
        return ast.literal_eval(repr(value)) == value
    except (ValueError, SyntaxError, TypeError, RecursionError):
        return False


def _unwrapped(value: Any) -> Any:
    """The function under functools wrappers (lru_cache, cache, wraps): what to ship."""
    try:
        return inspect.unwrap(value) if callable(value) else value
    except ValueError:
        return value


def _binding(name: str, value: Any, done: set[int], parts: list[str]) -> None:
    value = _unwrapped(value)
    if isinstance(value, types.ModuleType):
        parts.append(f"import {value.__name__} as {name}" if "." not in value.__name__ else
                     f"import {value.__name__}\n{name} = {value.__name__}")
    elif isinstance(value, types.FunctionType) and value.__module__ in (
            "__main__", "__notebook__") or _defined_here(value):
        _function(value, done, parts)
        if value.__name__ != name:
            parts.append(f"{name} = {value.__name__}")
    elif (module := getattr(value, "__module__", None)) and "." not in getattr(
            value, "__qualname__", ".") and module not in ("__main__", "__notebook__") \
            and not isinstance(value, type(None)):
        parts.append(f"from {module} import {value.__qualname__} as {name}")
    elif _is_literal(value):
        parts.append(f"{name} = {value!r}")
    else:
        raise CannotShip(f"{name} ({type(value).__name__})")


def _defined_here(value: Any) -> bool:
    """A function defined in a notebook or a test module (not importable as such)."""
    return isinstance(value, types.FunctionType) and "<locals>" in value.__qualname__


def _function(fn: Callable, done: set[int], parts: list[str]) -> None:
    if id(fn) in done:
        return
    done.add(id(fn))
    if not isinstance(fn, types.FunctionType) or fn.__name__ == "<lambda>":
        raise CannotShip(repr(fn))
    try:
        source = textwrap.dedent(inspect.getsource(fn))
    except (OSError, TypeError) as error:
        raise CannotShip(f"the source of {fn.__name__}") from error
    code = fn.__code__
    free = dict(zip(code.co_freevars, [c.cell_contents for c in fn.__closure__ or ()],
                    strict=True))
    for name in sorted(_names(code)):
        if name in free:
            continue
        if name in fn.__globals__:
            _binding(name, fn.__globals__[name], done, parts)
    for name, value in free.items():
        _binding(name, value, done, parts)
    parts.append("\n".join(line for line in source.splitlines()
                           if not line.lstrip().startswith("@")))


def shipped(fn: Callable) -> str:
    """Python source that defines ``fn`` (as ``learner_fn``) in a fresh interpreter."""
    parts: list[str] = []
    fn = _unwrapped(fn)
    _function(fn, set(), parts)
    parts.append(f"learner_fn = {fn.__name__}")
    return "\n".join(parts)


def call_elsewhere(fn: Callable, calls: list[list[Any]], timeout: float) -> list[str] | None:
    """``str(fn(*args))`` for each call, in a fresh process with another hash salt.

    None when the function cannot be shipped or does not run there (the check then skips).
    """
    try:
        program = shipped(fn)
    except (CannotShip, RecursionError):
        return None
    runner = (program + "\nimport json, sys\n"
              "calls = json.loads(sys.stdin.read())\n"
              f"print(json.dumps([hash({PROBE!r}), [str(learner_fn(*c)) for c in calls]]))\n")
    here = hash(PROBE)
    for seed in range(1, 5):
        try:
            done = subprocess.run([sys.executable, "-c", runner], input=json.dumps(calls),
                                  capture_output=True, text=True, timeout=timeout,
                                  cwd=ROOT, env={**os.environ, "PYTHONHASHSEED": str(seed)})
        except subprocess.TimeoutExpired:
            return None
        if done.returncode != 0:
            return None
        try:
            probe, results = json.loads(done.stdout.strip().splitlines()[-1])
        except (ValueError, IndexError):
            return None  # the function printed something of its own last, or nothing
        if probe != here and isinstance(results, list) and len(results) == len(calls):
            return [str(r) for r in results]
    return None
