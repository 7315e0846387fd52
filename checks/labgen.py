"""Write ``labs/`` from ``solutions/``: the solutions are the single source of truth.

Solution code sits between ``# BEGIN SOLUTION`` and ``# END SOLUTION`` lines.
In the learner's copy that region becomes a stub that names its exercise (the
id of the next ``check(...)`` call) and raises NotImplementedError, outputs and
execution counts are cleared, and cells tagged ``solution-only`` are dropped.
Demo cells (code cells after the first that neither hold a solution nor run a
check) get the ``raises-exception`` tag: they call exercises that may not be
done yet, and with the tag Run All goes past them to the end, each saying in
one line which exercise it waits for (see ``environment.notebook``).
``--check`` reports whether ``labs/`` is stale, for the test suite.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
BEGIN, END = "# BEGIN SOLUTION", "# END SOLUTION"
CHECK_CALL = re.compile(r"""check\(\s*["'](\d+\.\d+)["']""")
SOLUTION_ONLY = "solution-only"
MAY_RAISE = "raises-exception"


def stub(indent: str, exercise: str | None) -> list[str]:
    label = f"exercise {exercise}" if exercise else "this exercise"
    return [
        f"{indent}# Your code here: replace the next line. The check cell below tells you what",
        f"{indent}# is still missing and gives a hint.",
        f'{indent}raise NotImplementedError("{label} is not done yet")',
    ]


def strip_solutions(source: str, exercise: str | None) -> str:
    out: list[str] = []
    inside = False
    for line in source.splitlines():
        marker = line.strip()
        if marker == BEGIN:
            if inside:
                raise ValueError(f"nested {BEGIN} in:\n{source}")
            inside = True
            out.extend(stub(line[: len(line) - len(line.lstrip())], exercise))
        elif marker == END:
            if not inside:
                raise ValueError(f"{END} without {BEGIN} in:\n{source}")
            inside = False
        elif not inside:
            out.append(line)
    if inside:
        raise ValueError(f"{BEGIN} without {END} in:\n{source}")
    return "\n".join(out)


def make_lab(solution: nbformat.NotebookNode) -> nbformat.NotebookNode:
    lab = nbformat.v4.new_notebook(metadata=solution.metadata)
    cells = [c for c in solution.cells
             if SOLUTION_ONLY not in c.get("metadata", {}).get("tags", [])]
    first_code = next((c for c in cells if c.cell_type == "code"), None)
    for index, cell in enumerate(cells):
        if cell.cell_type != "code":
            lab.cells.append(nbformat.v4.new_markdown_cell(cell.source, metadata=cell.metadata)
                             if cell.cell_type == "markdown" else cell)
            continue
        exercise = next((m.group(1) for later in cells[index:] if later.cell_type == "code"
                         for m in [CHECK_CALL.search(later.source)] if m), None)
        metadata = {k: v for k, v in cell.metadata.items() if k != "execution"}  # run timings
        if cell is not first_code and BEGIN not in cell.source and "check(" not in cell.source:
            tags = list(metadata.get("tags", []))
            metadata["tags"] = tags if MAY_RAISE in tags else [*tags, MAY_RAISE]
        lab.cells.append(nbformat.v4.new_code_cell(strip_solutions(cell.source, exercise),
                                                   metadata=metadata))
    # A lab cell keeps its solution cell's id: the grader matches a submission's check cells to
    # the source by id (checks.submission). New cells get a positional id, never a random one.
    for number, (cell, source) in enumerate(zip(lab.cells, cells, strict=True)):
        cell["id"] = source.get("id") or f"cell-{number:03d}"
    return lab


def render(notebook: nbformat.NotebookNode) -> str:
    return nbformat.writes(notebook) + "\n"


def targets(solutions: Path, labs: Path) -> list[tuple[Path, Path]]:
    return [(path, labs / path.name) for path in sorted(solutions.glob("*.ipynb"))]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m checks.labgen", description=__doc__)
    parser.add_argument("--check", action="store_true", help="exit 1 if labs/ is stale")
    parser.add_argument("--solutions", type=Path, default=ROOT / "solutions")
    parser.add_argument("--labs", type=Path, default=ROOT / "labs")
    args = parser.parse_args(argv)
    stale = []
    for source, target in targets(args.solutions, args.labs):
        text = render(make_lab(nbformat.read(source, as_version=4)))
        current = target.read_text(encoding="utf-8") if target.exists() else None
        if current == text:
            continue
        stale.append(target)
        if not args.check:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
            print(f"wrote {target.relative_to(ROOT) if target.is_relative_to(ROOT) else target}")
    if args.check and stale:
        names = ", ".join(p.name for p in stale)
        print(f"labs/ is stale ({names}): run `make labs` and commit the result.", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
