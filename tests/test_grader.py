"""`python -m checks`: the lab fails every exercise, the solution passes them all."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent


def grade(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "checks", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=600, env=dict(os.environ))


def test_every_check_fails_on_the_labs_and_passes_on_the_solutions(lab):
    result = grade("labs", "solutions", "--json")
    assert result.returncode == 1, result.stderr
    report = json.loads(result.stdout)
    by_path = {Path(n["path"]).as_posix(): n for n in report["notebooks"]}
    assert sorted(by_path) == ["labs/01-tenant-context.ipynb", "labs/02-tenant-isolation.ipynb",
                               "solutions/01-tenant-context.ipynb",
                               "solutions/02-tenant-isolation.ipynb"]
    expected = {1: ["1.1", "1.2", "1.3", "1.4", "1.5", "1.6"], 2: ["2.1", "2.2", "2.3", "2.4"]}
    for path, notebook in by_path.items():
        assert [e["exercise"] for e in notebook["exercises"]] == expected[notebook["lab"]]
        if path.startswith("labs/"):
            assert all(e["status"] == "failed" and e["message"].startswith("Not started")
                       for e in notebook["exercises"]), notebook
        else:
            assert notebook["ok"] and not notebook["cell_errors"], notebook
    assert report["passed"] == 10 and report["total"] == 20
    # The kernels get CurveZMQ keys, so ipykernel has no plain-text TCP warning to print.
    assert "without encryption" not in result.stderr


def test_a_hanging_cell_ends_the_notebook_with_a_message(tmp_path):
    notebook = nbformat.v4.new_notebook(metadata={"lab": {"number": 1}})
    notebook.cells = [nbformat.v4.new_code_cell("import time\ntime.sleep(120)")]
    path = tmp_path / "01-stuck.ipynb"
    nbformat.write(notebook, path)
    result = grade(str(tmp_path), "--json", "--timeout", "3")
    assert result.returncode == 1
    graded = json.loads(result.stdout)["notebooks"][0]
    assert "ran longer than 3 s" in graded["problem"]
    assert {e["status"] for e in graded["exercises"]} == {"not run"}


def test_nothing_to_grade_is_a_usage_error(tmp_path):
    result = grade(str(tmp_path / "missing.ipynb"))
    assert result.returncode == 2 and "Nothing to grade" in result.stdout
