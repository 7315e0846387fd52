"""How the kit's errors look in a notebook: advice in a line or two, never a wall of traceback.

Two kinds of exception are the kit's to explain. A ``LabError`` is advice (the port is taken,
the emulator is not up): it prints as its message. A cell that calls an exercise the learner
has not done yet raises the stub's ``NotImplementedError("exercise 1.4 is not done yet")``;
it prints one line saying which exercise the cell waits for, and the names that cell would
have set are remembered, so a later cell that trips over one of them (a ``NameError``) says
the same instead of a confusing traceback. In the generated labs such demo cells carry the
``raises-exception`` tag, so Run All goes on to the end and every check reports its state.
Every other error keeps IPython's own traceback.
"""

from __future__ import annotations

import ast
import re
import sys
from typing import Any

from .errors import LabError

UNFINISHED = re.compile(r"exercise (\d+\.\d+) is not done yet")


def assigned_names(source: str) -> set[str]:
    """The top-level names a cell binds (assignments, definitions, imports, for/with targets)."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return set()
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update((a.asname or a.name).split(".")[0] for a in node.names)
        else:
            names.update(n.id for n in ast.walk(node)
                         if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store))
    return names


class NotebookErrors:
    """IPython's custom exception handler for the kit's errors (see the module docstring)."""

    def __init__(self) -> None:
        self.waiting: dict[str, str] = {}  # a name a cell could not set -> the exercise it needs

    def __call__(self, shell: Any, etype: type, value: BaseException, tb: Any,
                 tb_offset: int | None = None) -> list[str] | None:
        if isinstance(value, LabError):
            print(f"\N{WARNING SIGN} {value}", file=sys.stderr)
            return None
        unfinished = UNFINISHED.search(str(value)) if isinstance(value, NotImplementedError) \
            else None
        if unfinished:
            exercise = unfinished.group(1)
            source = shell.user_ns.get("In", [""])[-1] if shell is not None else ""
            for name in assigned_names(source):
                self.waiting.setdefault(name, exercise)
            print(f"\N{BLACK RIGHT-POINTING TRIANGLE} This cell needs exercise {exercise}, which "
                  "is not done yet: it will work once that exercise's check passes.")
            return None
        name = getattr(value, "name", None)
        if isinstance(value, NameError) and name in self.waiting:
            print(f"\N{BLACK RIGHT-POINTING TRIANGLE} This cell needs `{name}`, which a cell "
                  f"above could not set until exercise {self.waiting[name]} is done.")
            return None
        # IPython ignores what a custom handler returns: show the usual traceback ourselves.
        shell.showtraceback((etype, value, tb), tb_offset=tb_offset, running_compiled_code=True)
        return None

    def forget(self, result: Any = None) -> None:
        """A cell that ran without error may have set some of the names after all."""
        if getattr(result, "success", False):
            source = getattr(getattr(result, "info", None), "raw_cell", "") or ""
            for name in assigned_names(source):
                self.waiting.pop(name, None)


def install() -> None:
    """In IPython, explain the kit's errors briefly (idempotent; outside IPython, nothing)."""
    try:
        shell = get_ipython()  # type: ignore[name-defined]  # noqa: F821
    except NameError:
        return
    if shell is None or getattr(shell, "_lab_errors_installed", False):
        return
    handler = NotebookErrors()
    shell.set_custom_exc((LabError, NotImplementedError, NameError), handler)
    shell.events.register("post_run_cell", handler.forget)
    shell._lab_errors_installed = True
