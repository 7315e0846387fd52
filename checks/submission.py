"""A submission is graded on what its functions do, not on what its check cells print.

Before a submission runs, every check cell of its lab is put back from the source (the lab as
``make labs`` writes it from ``solutions/``, matched by the stable cell ids): a cell whose
``check(...)`` was edited, replaced by ``print("✅ ...")`` or deleted gets the grader's own cell
at that place. The grader's cell calls the check on the functions the notebook defined by then
and prints the outcome on a line the grader reads from that cell's own output, after the run.
So a submission cannot grade itself by editing cells or writing a results file. It can still
patch the Python process it runs in (``checks.run``, say): the kernel is the learner's.
"""

from __future__ import annotations

import json
from typing import Any

import nbformat

from .grading import MARK
from .labgen import CHECK_CALL, make_lab
from .notebook_code import ROOT, solution_path

GRADER_TAG = "lab-grader"


def grader_cell(exercise_id: str, cell_id: str) -> nbformat.NotebookNode:
    source = ("from checks.grading import grade_in_notebook\n"
              f"grade_in_notebook({exercise_id!r}, globals())")
    cell = nbformat.v4.new_code_cell(source, metadata={"tags": [GRADER_TAG]})
    cell["id"] = cell_id
    return cell


def lab_checks(lab: int) -> list[tuple[str, str, str | None]]:
    """(cell id, exercise, id of the cell before it) for each check cell of the lab's notebook."""
    source = make_lab(nbformat.read(ROOT / solution_path(lab), as_version=4))
    found, previous = [], None
    for cell in source.cells:
        match = CHECK_CALL.search(cell.source) if cell.cell_type == "code" else None
        if match:
            found.append((cell["id"], match.group(1), previous))
        previous = cell["id"]
    return found


def restore(submission: nbformat.NotebookNode, lab: int) -> nbformat.NotebookNode:
    """The submission with the grader's cell in the place of each of its lab's check cells."""
    cells = list(submission.cells)
    for cell_id, exercise, previous in lab_checks(lab):
        graded = grader_cell(exercise, cell_id)
        at = next((i for i, c in enumerate(cells) if c.get("id") == cell_id), None)
        if at is not None:
            cells[at] = graded
            continue
        after = next((i for i, c in enumerate(cells) if c.get("id") == previous), None)
        cells.insert(len(cells) if after is None else after + 1, graded)
    restored = nbformat.v4.new_notebook(metadata=submission.metadata)
    restored.cells = cells
    return restored


def outcomes(executed: nbformat.NotebookNode) -> dict[str, dict[str, Any]]:
    """What the grader's own cells printed, by exercise; nothing any other cell printed."""
    found: dict[str, dict[str, Any]] = {}
    for cell in executed.cells:
        if GRADER_TAG not in cell.get("metadata", {}).get("tags", []):
            continue
        for output in cell.get("outputs", []):
            for line in output.get("text", "").splitlines():
                if line.startswith(MARK):
                    outcome = json.loads(line[len(MARK):])
                    found[outcome["exercise"]] = outcome
    return found
