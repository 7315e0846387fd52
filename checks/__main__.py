"""``python -m checks NOTEBOOK_OR_FOLDER... [--json]``: grade notebooks headless.

Prints a table per notebook (or JSON with ``--json``) and exits 0 only when
every exercise of every notebook passed; 1 when something failed or did not
run; 2 when the command itself was used wrongly.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from rich.console import Console
from rich.table import Table

from environment.errors import LabError

from .grade import CELL_TIMEOUT_S, NotebookResult, expand, grade

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
    total = sum(len(r.exercises) for r in results)
    passed = sum(r.passed for r in results)
    console.print(f"{passed} of {total} exercises passed in {len(results)} notebook(s).")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m checks", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("paths", nargs="+", type=Path, help="notebooks or folders of notebooks")
    parser.add_argument("--json", action="store_true", help="print JSON instead of tables")
    parser.add_argument("--timeout", type=int, default=CELL_TIMEOUT_S,
                        help=f"seconds a single cell may run (default {CELL_TIMEOUT_S})")
    args = parser.parse_args(argv)
    console = Console(highlight=False, soft_wrap=True)
    notebooks = expand(args.paths)
    missing = [p for p in notebooks if not p.exists()]
    if missing or not notebooks:
        what = ", ".join(map(str, missing)) or "no notebooks in the given folders"
        console.print(f"[red]Nothing to grade:[/red] {what}.")
        return 2
    results = []
    for path in notebooks:
        if not args.json:
            console.print(f"[dim]running {path} ...[/dim]")
        try:
            results.append(grade(path, args.timeout))
        except LabError as error:
            console.print(f"[red]{error}[/red]")
            return 2
    if args.json:
        print(json.dumps({"notebooks": [r.as_dict() for r in results],
                          "passed": sum(r.passed for r in results),
                          "total": sum(len(r.exercises) for r in results)}, indent=2))
    else:
        show(results, console)
    return 0 if all(r.ok for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
