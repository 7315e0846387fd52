"""Call a learner function in a fresh Python process, to see what it depends on.

A shard picked with ``hash()`` is stable inside one process and different in
the next one (string hashes are salted per process), so a writer and a reader
in two processes disagree. The only sound test is to ask another process: the
function's source is shipped with what it needs from its globals (modules,
importable names, other learner functions, plain constants) and run under
another ``PYTHONHASHSEED``. When something cannot be shipped faithfully the
answer is None and the check says it could not look, rather than guess.

A module-level cache travels as the literal it is now, answers included, so the
check asks the fresh process about ids this process has never been asked about
(``unused_ids``), before asking them here: the fresh process must compute those
answers itself. Objects that rebuild from their ``repr`` (a compiled pattern, a
UUID, a Decimal), ``functools.partial`` helpers and ``name = lambda ...``
helpers travel too, so that a correct function using them is not left unjudged.
"""

from __future__ import annotations

import ast
import functools
import importlib
import inspect
import itertools
import json
import os
import subprocess
import sys
import textwrap
import types
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent  # so the kit's own modules import there too
PROBE = "saas-lab-kit-hash-probe"
_RUNS = itertools.count()


def unused_ids(count: int, prefix: str = "tenant") -> list[str]:
    """Ids (numbered and UUID-like) that no earlier call in this process was given.

    Asked first in the fresh process, they defeat a cache shipped with the function: its
    answers for them are computed there, with that process's hash salt and arrival order.
    """
    run = next(_RUNS)
    return [f"{prefix}-{run:02d}{n:03d}" if n % 2 else
            str(uuid.uuid5(uuid.NAMESPACE_URL, f"{prefix}/{run}/{n}")) for n in range(count)]


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


def _binding(name: str, value: Any, done: dict[int, str], parts: list[str]) -> None:
    value = _unwrapped(value)
    if isinstance(value, types.ModuleType):
        parts.append(f"import {value.__name__} as {name}" if "." not in value.__name__ else
                     f"import {value.__name__}\n{name} = {value.__name__}")
    elif isinstance(value, types.FunctionType) and value.__module__ in (
            "__main__", "__notebook__") or _defined_here(value):
        defined = _function(value, done, parts)
        if defined != name:
            parts.append(f"{name} = {defined}")
    elif (module := getattr(value, "__module__", None)) and "." not in getattr(
            value, "__qualname__", ".") and module not in ("__main__", "__notebook__") \
            and not isinstance(value, type(None)):
        parts.append(f"from {module} import {value.__qualname__} as {name}")
    elif _is_literal(value):
        parts.append(f"{name} = {value!r}")
    elif isinstance(value, functools.partial):
        _binding(f"{name}__func", value.func, done, parts)
        arguments = [repr(a) for a in value.args] + [f"{k}={v!r}" for k, v in
                                                     value.keywords.items()]
        if not all(_is_literal(a) for a in (*value.args, *value.keywords.values())):
            raise CannotShip(f"{name} (a partial of non-literal arguments)")
        parts.append(f"import functools\n{name} = functools.partial({name}__func, "
                     f"{', '.join(arguments)})")
    elif (rebuilt := _rebuilt(value)) is not None:
        parts.append(f"{rebuilt[0]}\n{name} = {rebuilt[1]}")
    else:
        raise CannotShip(f"{name} ({type(value).__name__})")


def _rebuilt(value: Any) -> tuple[str, str] | None:
    """(imports, expression) that rebuild ``value`` from its repr, e.g. ``re.compile('.+')``."""
    cls = type(value)
    module = getattr(cls, "__module__", "")
    if module in ("builtins", "__main__", "__notebook__") or "<" in cls.__qualname__:
        return None
    top = module.split(".")[0]
    try:
        scope = {cls.__name__: cls, top: importlib.import_module(top)}
        text = repr(value)
        if eval(text, scope) != value:  # noqa: S307 - the repr of an object we hold
            return None
    except Exception:  # noqa: BLE001 - any failure means: cannot rebuild it
        return None
    return f"import {top}\nfrom {module} import {cls.__name__}", text


def _defined_here(value: Any) -> bool:
    """A function defined in a notebook or a test module (not importable as such)."""
    return isinstance(value, types.FunctionType) and "<locals>" in value.__qualname__


def _function(fn: Callable, done: dict[int, str], parts: list[str]) -> str:
    """Ship ``fn`` and what it names; the name it is defined under there."""
    if id(fn) in done:
        return done[id(fn)]
    done[id(fn)] = fn.__name__
    if not isinstance(fn, types.FunctionType):
        raise CannotShip(repr(fn))
    try:
        source = textwrap.dedent(inspect.getsource(fn))
    except (OSError, TypeError) as error:
        raise CannotShip(f"the source of {fn.__name__}") from error
    if fn.__name__ == "<lambda>":
        source, done[id(fn)] = _lambda_statement(fn, source)
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
    return done[id(fn)]


def _lambda_statement(fn: Callable, source: str) -> tuple[str, str]:
    """``name = lambda ...`` on a line of its own: the statement that defines the lambda."""
    try:
        tree = ast.parse(source)
    except SyntaxError as error:
        raise CannotShip("a lambda inside an expression") from error
    statement = tree.body[0] if len(tree.body) == 1 else None
    if not (isinstance(statement, ast.Assign) and isinstance(statement.value, ast.Lambda)
            and len(statement.targets) == 1 and isinstance(statement.targets[0], ast.Name)
            and fn.__globals__.get(statement.targets[0].id) is fn):
        raise CannotShip("a lambda not assigned to a name of its own")
    return source, statement.targets[0].id


def shipped(fn: Callable) -> str:
    """Python source that defines ``fn`` (as ``learner_fn``) in a fresh interpreter."""
    parts: list[str] = []
    fn = _unwrapped(fn)
    parts.append(f"learner_fn = {_function(fn, {}, parts)}")
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
