"""``python -m checks NOTEBOOK_OR_FOLDER... [--jobs N] [--csv FILE] [--json [FILE]]``.

Grades notebooks headless, each in a fresh kernel against an emulator of its own, ``--jobs`` at
a time. Prints a table per notebook and a summary of how many passed each exercise (or JSON on
standard output with a bare ``--json``); ``--csv`` and ``--json FILE`` also write a file with one
row per submission. Exits 0 only when every exercise of every notebook passed; 1 when something
failed or did not run; 2 when the command itself was used wrongly.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from rich.console import Console
from rich.table import Table

from environment.errors import LabError

from .batch import grade_many
from .classlist import summary, write_csv
from .grade import CELL_TIMEOUT_S, NOTEBOOK_TIMEOUT_S, NotebookResult, expand

STATUS_STYLE = {"passed": "green", "failed": "red", "not run": "yellow"}


def show(results: list[NotebookResult], console: Console) -> None:
    for result in results:
        table = Table(title=f"{result.path}  ({result.passed}/{len(result.exercises)} passed)",
                      title_justify="left", show_lines=False)
        table.add_column("exercise")
        table.add_column("title")
        table.add_column("result")
        table.add_column("detail", overflow="fold")
        for exercise in result.exercises:
            first_line = exercise.message.strip().splitlines()[0] if exercise.message else ""
            style = STATUS_STYLE[exercise.status]
            table.add_row(exercise.exercise, exercise.title,
                          f"[{style}]{exercise.status}[/{style}]", first_line)
        console.print(table)
        if result.problem:
            console.print(f"[red]Problem:[/red] {result.problem}")
        for error in result.cell_errors:
            console.print(f"  [dim]{error}[/dim]")
    if len(results) > 1:
        table = Table(title="Summary: submissions that passed each exercise",
                      title_justify="left")
        table.add_column("exercise")
        table.add_column("title")
        table.add_column("passed", justify="right")
        for exercise, title, passed, graded in summary(results):
            table.add_row(exercise, title, f"{passed} of {graded}")
        console.print(table)
    total = sum(len(r.exercises) for r in results)
    passed = sum(r.passed for r in results)
    console.print(f"{passed} of {total} exercises passed in {len(results)} notebook(s).")


def report(results: list[NotebookResult]) -> dict:
    return {"notebooks": [r.as_dict() for r in results],
            "passed": sum(r.passed for r in results),
            "total": sum(len(r.exercises) for r in results)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m checks", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("paths", nargs="+", type=Path, help="notebooks or folders of notebooks")
    parser.add_argument("--json", nargs="?", const="-", metavar="FILE",
                        help="write JSON to FILE (or, with no FILE, print it instead of tables)")
    parser.add_argument("--csv", type=Path, metavar="FILE",
                        help="write one row per notebook and a column per exercise")
    parser.add_argument("--jobs", "-j", type=int, default=min(4, os.cpu_count() or 1),
                        help="notebooks graded at once, each on its own emulator "
                             "(default: cores, at most 4)")
    parser.add_argument("--timeout", type=int, default=CELL_TIMEOUT_S,
                        help=f"seconds a single cell may run (default {CELL_TIMEOUT_S})")
    parser.add_argument("--notebook-timeout", type=int, default=NOTEBOOK_TIMEOUT_S,
                        help=f"seconds a whole notebook may run (default {NOTEBOOK_TIMEOUT_S})")
    args = parser.parse_args(argv)
    console = Console(highlight=False, soft_wrap=True)
    if args.jobs < 1:
        console.print("[red]--jobs takes a number of 1 or more.[/red]")
        return 2
    notebooks = expand(args.paths)
    missing = [p for p in notebooks if not p.exists()]
    if missing or not notebooks:
        what = ", ".join(map(str, missing)) or "no notebooks in the given folders"
        console.print(f"[red]Nothing to grade:[/red] {what}.")
        return 2
    printing_json = args.json == "-"
    count = {"done": 0}

    def done(result: NotebookResult) -> None:
        count["done"] += 1
        if not printing_json:
            console.print(f"[dim]graded {result.path} ({count['done']} of {len(notebooks)})"
                          "[/dim]")

    try:
        results = grade_many(notebooks, args.jobs, args.timeout, args.notebook_timeout, done)
    except LabError as error:
        console.print(f"[red]{error}[/red]")
        return 2
    if args.csv:
        write_csv(results, args.csv)
    if args.json and not printing_json:
        Path(args.json).write_text(json.dumps(report(results), indent=2), encoding="utf-8")
    if printing_json:
        print(json.dumps(report(results), indent=2))
    else:
        show(results, console)
    return 0 if all(r.ok for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
