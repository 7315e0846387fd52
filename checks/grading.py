"""The grader's cell, inside a submission's kernel: check the functions the notebook defined.

It prints the outcome as one line behind ``MARK`` for the grader to read from this cell's
output (see ``checks.submission``), and the usual report for a person reading the notebook.
"""

from __future__ import annotations

import json
from typing import Any

from .framework import REGISTRY, Outcome, run
from .results import render

# The grader reads the line behind this mark from its own cells' output (checks.submission).
# Defined here, in the kernel's side, so that grading imports nothing heavy (nbformat, the lab
# generator): a second or two per graded notebook.
MARK = "LAB-GRADE "


def grade_in_notebook(exercise_id: str, namespace: dict[str, Any]) -> None:
    exercise = REGISTRY[exercise_id]
    missing = [name for name in exercise.needs if not callable(namespace.get(name))]
    if missing:
        outcome = Outcome(exercise.id, exercise.title, False, 0,
                          f"the notebook defines no function {', '.join(missing)}",
                          state="not checked")
    else:
        outcome = run(exercise_id, *(namespace[name] for name in exercise.needs))
    print(render(outcome))
    print(MARK + json.dumps(outcome.as_dict()))
