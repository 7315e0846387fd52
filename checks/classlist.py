"""A class's grades as an instructor wants them: a CSV row per submission, a count per exercise.

The CSV opens in any spreadsheet: one row per notebook, a column per exercise (passed, not run,
or failed with how many of its cases passed), the score, and the problem that stopped a
notebook, if any.
"""

from __future__ import annotations

import csv
from pathlib import Path

from .framework import REGISTRY
from .grade import ExerciseResult, NotebookResult


def exercise_ids(results: list[NotebookResult]) -> list[str]:
    """Every exercise any of the graded notebooks has, in the order of the registry."""
    seen = {e.exercise for r in results for e in r.exercises}
    ordered = [e for e in REGISTRY if e in seen]
    return ordered + sorted(seen - set(ordered))


def write_csv(results: list[NotebookResult], path: Path) -> None:
    columns = exercise_ids(results)
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(["notebook", "lab", "passed", "total", *columns, "problem"])
        for result in results:
            status = {e.exercise: _cell(e) for e in result.exercises}
            writer.writerow([str(result.path), result.lab if result.lab is not None else "",
                             result.passed, len(result.exercises),
                             *(status.get(c, "") for c in columns), result.problem])


def _cell(exercise: ExerciseResult) -> str:
    """An exercise's status, with how many of its cases passed when it did not pass them all."""
    cases = exercise.results
    if exercise.status != "failed" or not cases:
        return exercise.status
    passed = sum(case["result"] == "passed" for case in cases)
    return f"failed ({passed} of {len(cases)} cases passed)"


def summary(results: list[NotebookResult]) -> list[tuple[str, str, int, int]]:
    """(exercise, title, how many passed, how many notebooks have it), per exercise."""
    rows = []
    for exercise in exercise_ids(results):
        graded = [e for r in results for e in r.exercises if e.exercise == exercise]
        rows.append((exercise, graded[0].title, sum(e.status == "passed" for e in graded),
                     len(graded)))
    return rows
