"""Run notebooks headless and collect every exercise's outcome.

For self-study progress and for instructors grading a folder of submissions.
Each notebook runs in a fresh kernel (nbclient), with its lab's check cells put
back from the source first (``checks.submission``): the grade is what the
notebook's functions do, read from the grader's own cells. Exercises whose
check never ran (the kernel died first, say) count as "not run". Cells that
raise do not stop the run, and a cell that runs too long ends that notebook
with a message rather than hanging the grader.
"""

from __future__ import annotations

import math
import os
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import nbformat
import zmq
from nbclient import NotebookClient
from nbclient.exceptions import CellTimeoutError, DeadKernelError
from traitlets.config import Config

from .framework import REGISTRY
from .submission import outcomes, restore

CELL_TIMEOUT_S = 180
NOTEBOOK_TIMEOUT_S = 900

# The kernel runs on loopback TCP. Without this, ipykernel warns on every start that the
# connection is unencrypted; "auto" has the kernel manager hand the kernel CurveZMQ keys when
# its kernelspec says it can use them (ipykernel 7 does), which both encrypts and quiets it.
# A libzmq built without Curve keeps the old behaviour rather than failing.
KERNEL_CONFIG = Config({"KernelManager": {
    "transport_encryption": "auto" if zmq.has("curve") else "disabled"}})


@dataclass
class ExerciseResult:
    exercise: str
    title: str
    status: Literal["passed", "failed", "not run"]
    message: str = ""
    results: list[dict[str, str]] = field(default_factory=list)  # each case: name, result, detail


@dataclass
class NotebookResult:
    path: Path
    lab: int | None
    exercises: list[ExerciseResult] = field(default_factory=list)
    cell_errors: list[str] = field(default_factory=list)
    problem: str = ""

    @property
    def passed(self) -> int:
        return sum(e.status == "passed" for e in self.exercises)

    @property
    def ok(self) -> bool:
        return not self.problem and bool(self.exercises) and self.passed == len(self.exercises)

    def as_dict(self) -> dict[str, Any]:
        return {"path": str(self.path), "lab": self.lab, "passed": self.passed,
                "total": len(self.exercises), "ok": self.ok, "problem": self.problem,
                "cell_errors": self.cell_errors,
                "exercises": [vars(e) for e in self.exercises]}


def lab_number(path: Path, notebook: nbformat.NotebookNode) -> int | None:
    number = notebook.metadata.get("lab", {}).get("number")
    if isinstance(number, int):
        return number
    match = re.match(r"(\d+)-", path.name)
    return int(match.group(1)) if match else None


def expand(paths: list[Path]) -> list[Path]:
    """Notebooks named directly, and every notebook in folders named (graded in name order)."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found += sorted(p for p in path.rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts)
        else:
            found.append(path)
    return found


def grade(path: Path, cell_timeout: int = CELL_TIMEOUT_S,
          notebook_timeout: int = NOTEBOOK_TIMEOUT_S,
          env: dict[str, str] | None = None) -> NotebookResult:
    """Run one notebook in a fresh kernel (with ``env`` added to its environment) and grade it.

    Each cell gets ``cell_timeout`` seconds and the whole notebook ``notebook_timeout``, so a
    submission of many slow cells cannot hold a grading run forever either.
    """
    try:
        notebook = nbformat.read(path, as_version=4)
    except (OSError, ValueError) as error:
        return NotebookResult(path, None, problem=f"cannot read the notebook: {error}")
    lab = lab_number(path, notebook)
    result = NotebookResult(path, lab)
    try:
        notebook = restore(notebook, lab) if lab is not None else notebook
    except FileNotFoundError:
        pass  # a lab the kit does not know: reported below as having no exercises
    deadline = time.monotonic() + notebook_timeout

    def time_left(cell: nbformat.NotebookNode) -> int:
        # Rounded up, so a cell's limit never ends before the notebook's: a timeout then means
        # the notebook's time is up, and the report says so.
        return max(1, min(cell_timeout, math.ceil(deadline - time.monotonic())))

    client = NotebookClient(notebook, timeout=cell_timeout, timeout_func=time_left,
                            allow_errors=True, kernel_name="python3", config=KERNEL_CONFIG,
                            resources={"metadata": {"path": str(path.parent.resolve())}})
    try:
        client.execute(env={**os.environ, **(env or {})})
    except CellTimeoutError:
        if time.monotonic() >= deadline:
            result.problem = (f"the notebook ran longer than {notebook_timeout} s in all "
                              "and was stopped")
        else:
            result.problem = (f"a cell ran longer than {cell_timeout} s and was stopped "
                              "(an endless loop, or a call waiting forever?)")
    except DeadKernelError:
        result.problem = "the notebook's kernel died (out of memory, or os._exit?)"
    graded = outcomes(notebook)
    for index, cell in enumerate(notebook.cells):
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                result.cell_errors.append(f"cell {index}: {output['ename']}: "
                                          f"{output['evalue']}".splitlines()[0][:160])
    expected = sorted((e for e in REGISTRY.values() if e.lab == lab), key=lambda e: e.order)
    for exercise in expected:
        outcome = graded.get(exercise.id)
        if outcome is None or outcome["state"] == "not checked":
            message = outcome["message"] if outcome else "the notebook never reached this check"
            result.exercises.append(ExerciseResult(exercise.id, exercise.title, "not run",
                                                   message))
        else:
            status = "passed" if outcome["passed"] else "failed"
            result.exercises.append(ExerciseResult(exercise.id, exercise.title, status,
                                                   outcome["message"], outcome["results"]))
    if lab is not None and not expected and not result.problem:
        result.problem = f"no exercises are known for lab {lab}"
    return result
