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


def test_every_check_fails_on_the_lab_and_passes_on_the_solution(lab):
    result = grade("labs/01-tenant-context.ipynb", "solutions/01-tenant-context.ipynb", "--json")
    assert result.returncode == 1, result.stderr
    report = json.loads(result.stdout)
    unsolved, solved = report["notebooks"]
    assert [e["exercise"] for e in unsolved["exercises"]] == ["1.1", "1.2", "1.3", "1.4", "1.5",
                                                             "1.6"]
    assert all(e["status"] == "failed" and e["message"].startswith("Not started")
               for e in unsolved["exercises"]), unsolved
    assert solved["ok"] and solved["passed"] == 6 and not solved["cell_errors"], solved
    assert report["passed"] == 6 and report["total"] == 12


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
