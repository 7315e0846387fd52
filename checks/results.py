"""Where outcomes go besides the screen: a JSON-lines file, when a grader asks for one.

The grader runs notebooks in their own kernels; setting ``LAB_RESULTS`` in the
kernel's environment makes every ``check(...)`` call append its outcome there,
which is simpler and sturdier than scraping cell outputs.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from .framework import Outcome

RESULTS_ENV = "LAB_RESULTS"


def record(outcome: Outcome) -> None:
    path = os.environ.get(RESULTS_ENV)
    if not path:
        return
    with Path(path).open("a", encoding="utf-8") as out:
        out.write(json.dumps(outcome.as_dict()) + "\n")


def read(path: Path) -> list[dict]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def render(outcome: Outcome) -> str:
    """The text a learner sees under a check cell."""
    mark = "\N{WHITE HEAVY CHECK MARK}" if outcome.passed else "\N{CROSS MARK}"
    head = f"{mark} {outcome.exercise} {outcome.title}: "
    text = head + (outcome.message if outcome.passed else "\n" + outcome.message)
    if outcome.skipped:
        text += "\n   skipped:  " + "; ".join(outcome.skipped)
    return text
