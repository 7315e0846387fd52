"""In a notebook, an unfinished exercise costs one line per cell, not a traceback per cell."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from environment.notebook import assigned_names

ROOT = Path(__file__).resolve().parents[1]


def _run(*sources: str) -> list[nbformat.NotebookNode]:
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell(s, metadata={"tags": ["raises-exception"]})
                      for s in sources]
    NotebookClient(notebook, timeout=60, allow_errors=True, kernel_name="python3").execute()
    return notebook.cells


def _text(cell: nbformat.NotebookNode) -> str:
    return "".join(o.get("text", "") for o in cell.outputs if o.output_type == "stream")


def _traceback(cell: nbformat.NotebookNode) -> str:
    return "".join("".join(o.traceback) for o in cell.outputs if o.output_type == "error")


def test_cells_that_wait_for_an_exercise_say_so_in_one_line_and_real_errors_keep_theirs():
    cells = _run(
        "from environment.lab import install_notebook_errors\ninstall_notebook_errors()",
        "def sign_in():\n    raise NotImplementedError('exercise 1.1 is not done yet')",
        "tokens = sign_in()\nid_token = tokens['IdToken']",
        "print(id_token[:10])",
        "print(undefined_by_anyone)",
        "id_token = 'now set by hand'",
        "print(id_token)",
    )
    assert _text(cells[2]).strip() == ("\N{BLACK RIGHT-POINTING TRIANGLE} This cell needs "
                                       "exercise 1.1, which is not done yet: it will work once "
                                       "that exercise's check passes.")
    assert not _traceback(cells[2])
    assert "needs `id_token`, which a cell above could not set until exercise 1.1" in \
        _text(cells[3])
    assert "undefined_by_anyone" in _traceback(cells[4])  # a real mistake keeps its traceback
    assert _text(cells[6]).strip() == "now set by hand"


def test_the_names_a_cell_binds():
    source = ("import jwt, os.path as p\nfrom x import y as z\na, (b, c) = 1, (2, 3)\n"
              "def f():\n    inner = 1\nclass K: pass\nfor i in []: pass\nd[0] = 1\n")
    assert assigned_names(source) == {"jwt", "p", "z", "a", "b", "c", "f", "K", "i"}
    assert assigned_names("this is not python(") == set()


@pytest.mark.parametrize("path", sorted((ROOT / "labs").glob("*.ipynb")), ids=lambda p: p.name)
def test_run_all_on_an_unsolved_lab_goes_to_the_end_without_a_traceback(path: Path, lab):
    """As Run All in JupyterLab: execution stops at an error unless the cell is tagged
    raises-exception, and nbclient follows the same rule."""
    notebook = nbformat.read(path, as_version=4)
    NotebookClient(notebook, timeout=120, kernel_name="python3",
                   resources={"metadata": {"path": str(path.parent)}}).execute()
    errors = [o for c in notebook.cells for o in c.get("outputs", []) if o.output_type == "error"]
    assert not errors, [f"{e.ename}: {e.evalue}" for e in errors]
    checks = [c for c in notebook.cells if c.cell_type == "code" and "check(" in c.source]
    assert checks and all("NOT STARTED" in str(c.outputs) or "Not started" in str(c.outputs)
                          for c in checks)
