"""Run a notebook's code in this process, to get the functions it defines.

Tests and benchmarks use it to take the learner-facing functions straight
from ``solutions/`` (the single source of truth) rather than keeping copies.
"""

from __future__ import annotations

import contextlib
import io
import linecache
from pathlib import Path
from typing import Any

import matplotlib
import nbformat

ROOT = Path(__file__).resolve().parent.parent


def namespace(relative: str, skip_checks: bool = True,
              solutions_only: bool = False) -> dict[str, Any]:
    """Run a notebook's code cells in a fresh namespace and return it.

    ``solutions_only`` runs only the cells holding ``# BEGIN SOLUTION``: the learner's functions
    without the demo cells (experiments, services) a test does not need.
    """
    matplotlib.use("Agg")
    notebook = nbformat.read(ROOT / relative, as_version=4)
    names: dict[str, Any] = {"__name__": "__notebook__"}
    with contextlib.redirect_stdout(io.StringIO()):  # the demo cells' prints are not for us
        for cell in notebook.cells:
            if cell.cell_type != "code" or (skip_checks and "check(" in cell.source):
                continue
            if solutions_only and "# BEGIN SOLUTION" not in cell.source:
                continue
            filename = f"{relative}:{cell.get('id')}"
            # Known to linecache, so inspect.getsource works on the functions (as in Jupyter).
            linecache.cache[filename] = (len(cell.source), None,
                                         cell.source.splitlines(keepends=True), filename)
            try:
                exec(compile(cell.source, filename, "exec"), names)
            except NotImplementedError:
                pass  # a learner's stub, called by a demo cell
            except NameError:
                pass  # a demo cell that needs a result the stub never produced
    return names


def solution_path(lab_number: int) -> str:
    """The solution notebook of a lab, relative to the repository (solutions/NN-*.ipynb)."""
    found = sorted((ROOT / "solutions").glob(f"{lab_number:02d}-*.ipynb"))
    if not found:
        raise FileNotFoundError(f"no solution notebook for lab {lab_number}")
    return str(found[0].relative_to(ROOT))


def exercise_ids(lab_number: int) -> list[str]:
    from .framework import REGISTRY

    return [e.id for e in sorted(REGISTRY.values(), key=lambda e: e.order) if e.lab == lab_number]


def functions_for(exercise_id: str, names: dict[str, Any]) -> list[Any]:
    """The learner functions an exercise's check takes, picked from a notebook's namespace."""
    from .framework import REGISTRY

    return [names[name] for name in REGISTRY[exercise_id].needs]
