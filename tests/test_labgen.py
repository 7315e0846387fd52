"""labs/ is generated from solutions/ and never drifts from it."""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest

from checks import labgen
from checks.framework import REGISTRY

ROOT = Path(__file__).resolve().parent.parent


def test_labs_are_exactly_what_make_labs_writes(capsys):
    assert labgen.main(["--check"]) == 0, capsys.readouterr().err


def test_a_stale_lab_is_detected(tmp_path):
    labs = tmp_path / "labs"
    assert labgen.main(["--labs", str(labs)]) == 0
    lab = sorted(labs.glob("*.ipynb"))[0]  # lab 1, which says "Lab 1"
    lab.write_text(lab.read_text().replace("Lab 1", "Lab one", 1))
    assert labgen.main(["--check", "--labs", str(labs)]) == 1


def test_solution_regions_become_stubs_that_name_their_exercise():
    source = "def f(x):\n    '''doc'''\n    # BEGIN SOLUTION\n    return x\n    # END SOLUTION\n"
    lab = labgen.strip_solutions(source, "1.2")
    assert "return x" not in lab and "'''doc'''" in lab
    assert '    raise NotImplementedError("exercise 1.2 is not done yet")' in lab


@pytest.mark.parametrize("broken", [
    "# BEGIN SOLUTION\nx = 1\n",
    "x = 1\n# END SOLUTION\n",
    "# BEGIN SOLUTION\n# BEGIN SOLUTION\n# END SOLUTION\n",
])
def test_unbalanced_markers_are_refused(broken):
    with pytest.raises(ValueError):
        labgen.strip_solutions(broken, None)


def test_lab_notebooks_have_no_outputs_and_no_solution_code():
    for lab_path in sorted((ROOT / "labs").glob("*.ipynb")):
        notebook = nbformat.read(lab_path, as_version=4)
        for cell in notebook.cells:
            if cell.cell_type == "code":
                assert cell.outputs == [] and cell.execution_count is None
                assert "BEGIN SOLUTION" not in cell.source


def test_every_exercise_has_a_solution_region_and_a_check_cell():
    for solution in sorted((ROOT / "solutions").glob("*.ipynb")):
        notebook = nbformat.read(solution, as_version=4)
        number = notebook.metadata["lab"]["number"]
        checked = {m for c in notebook.cells if c.cell_type == "code"
                   for m in re.findall(r'check\("(\d+\.\d+)"', c.source)}
        assert checked == {e for e in REGISTRY if e.startswith(f"{number}.")}
        regions = sum(c.source.count("# BEGIN SOLUTION") for c in notebook.cells)
        assert regions >= len(checked)
