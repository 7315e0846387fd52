"""Grading a class: many notebooks at once, each against an emulator no other one touches.

A submission's first cell resets its account (``connect(fresh=True)``), and a broken one may
delete tables or stop the emulator. Sharing one emulator would let one student's notebook change
another's grade, and would reset the lab a person has open on 4566. So each worker slot owns an
emulator of its own (a free port and a state folder) and grades its notebooks one after another
on it; before each notebook the slot's account is reset to the provisioned state, and an
emulator a submission stopped is started again.
"""

from __future__ import annotations

import os
import queue
import shutil
import tempfile
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from environment import emulator
from environment.account import provision
from environment.emulator.server import code_version
from environment.errors import LabError
from environment.settings import Settings, load_settings

from . import tracking
from .grade import CELL_TIMEOUT_S, NOTEBOOK_TIMEOUT_S, NotebookResult, grade

# A graded kernel draws no figures: nobody sees them, and rendering a plot to PNG for the
# notebook's output costs more CPU than most checks (matplotlib's Agg backend draws nothing
# until asked to save).
KERNEL_ENV = {"MPLBACKEND": "agg"}


def bytecode_cache(state_root: Path) -> dict[str, str]:
    """Compiled modules shared by the run's kernels, where Python is told not to write any.

    With PYTHONDONTWRITEBYTECODE set (a common line in container images) and an install that
    compiled nothing (uv's default), every kernel compiles each module it imports from source:
    a second or more per notebook. The run's kernels then share a cache of their own in the
    run's scratch folder (PYTHONPYCACHEPREFIX), so only the first compiles; the installed
    packages and the person's folders stay free of bytecode, as they asked.
    """
    if not os.environ.get("PYTHONDONTWRITEBYTECODE"):
        return {}
    return {"PYTHONDONTWRITEBYTECODE": "", "PYTHONPYCACHEPREFIX": str(state_root / "pycache")}


@dataclass(frozen=True)
class Slot:
    """One worker's private emulator: the variables its kernels get, and its settings."""

    env: dict[str, str]
    settings: Settings

    @classmethod
    def new(cls, state_root: Path, number: int) -> Slot:
        env = {"LAB_PORT": str(emulator.free_port()),
               "LAB_STATE_DIR": str(state_root / f"slot-{number}"),
               **KERNEL_ENV, **bytecode_cache(state_root)}
        return cls(env, load_settings(env))

    def prepare(self) -> None:
        """Running, and reset to the provisioned account, whatever the last notebook did.

        As isolating as a new emulator, and cheaper: the reset empties every service moto
        holds and the gate's issued sessions and audit trail, then provisions again with the
        same seed (the same ids as a new emulator); a submission cannot reach the emulator's
        process except through the API. The results a notebook recorded go too.
        """
        emulator.ensure_running(self.settings)
        provision.reset(self.settings)
        (self.settings.state_dir / tracking.FILE).unlink(missing_ok=True)


@contextmanager
def slots(jobs: int) -> Iterator[queue.Queue[Slot]]:
    state_root = Path(tempfile.mkdtemp(prefix="lab-grade-slots-"))
    free: queue.Queue[Slot] = queue.Queue()
    made = [Slot.new(state_root, number) for number in range(jobs)]
    for slot in made:
        free.put(slot)
    try:
        yield free
    finally:
        for slot in made:
            emulator.stop(slot.settings)
        shutil.rmtree(state_root, ignore_errors=True)


def grade_many(paths: list[Path], jobs: int = 1, cell_timeout: int = CELL_TIMEOUT_S,
               notebook_timeout: int = NOTEBOOK_TIMEOUT_S,
               done: Callable[[NotebookResult], None] | None = None) -> list[NotebookResult]:
    """Grade notebooks ``jobs`` at a time; results come back in the order of ``paths``."""
    # The emulator's code fingerprint parses the kit's modules once per process. Computed here,
    # before the workers start: CPython 3.11's ast.parse can fail in two threads at once
    # ("AST constructor recursion depth mismatch", python/cpython#106905).
    code_version()
    with slots(max(1, min(jobs, len(paths)))) as free:

        def one(path: Path) -> NotebookResult:
            slot = free.get()
            try:
                result = _graded_on(slot, path, cell_timeout, notebook_timeout)
            finally:
                free.put(slot)
            if done is not None:
                done(result)
            return result

        with ThreadPoolExecutor(max_workers=free.qsize(), thread_name_prefix="grade") as pool:
            return list(pool.map(one, paths))


def _graded_on(slot: Slot, path: Path, cell_timeout: int, notebook_timeout: int,
               attempts: int = 2) -> NotebookResult:
    """One notebook on a freshly reset slot. An error of the kernel machinery itself (a kernel
    that could not start on a loaded machine; nbclient then fails in its own clean-up) is not
    the submission's doing: the notebook is graded once more on a reset account, and if that
    fails too it is reported as a problem of this notebook, never a stop of the whole run."""
    failure = ""
    for _ in range(attempts):
        try:
            slot.prepare()
        except LabError as error:
            return NotebookResult(path, None, problem=f"no emulator to grade on: {error}")
        try:
            return grade(path, cell_timeout, notebook_timeout, env=slot.env)
        except Exception as error:  # noqa: BLE001 - nbclient and jupyter_client raise many kinds
            failure = f"{type(error).__name__}: {error}".splitlines()[0][:300]
    return NotebookResult(path, None, problem=f"the grader could not run this notebook's "
                                              f"kernel ({attempts} tries): {failure}")
