"""Adding a lab adds files and edits none: a throwaway lab 9 in a copy of the repository.

The copy gets one check module and one solution notebook, nothing else. Then, in the copy,
labs/ is generated, the grader grades the learner's notebook (not started) and the solution
(passed), the bench times the check, and the tests that walk over every lab include lab 9.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent

CHECK_MODULE = '''"""Checks of lab 9: a throwaway lab that proves a new lab only adds files."""

from .framework import Trial, exercise


@exercise("9.1", "double a number", ("double",), hint="multiply by two")
def check_double(double, t: Trial) -> None:
    for n in (2, 7):
        with t.case(f"double({n})"):
            t.expect(t.call(double, n) == 2 * n, str(2 * n), t.call(double, n))
'''


def _solution() -> nbformat.NotebookNode:
    notebook = nbformat.v4.new_notebook(metadata={"lab": {"number": 9, "title": "Toy"}})
    notebook.cells = [
        nbformat.v4.new_markdown_cell("# Lab 9: Toy"),
        nbformat.v4.new_code_cell("from checks import check"),
        nbformat.v4.new_code_cell('def double(n):\n    """Twice n."""\n    # BEGIN SOLUTION\n'
                                  "    return 2 * n\n    # END SOLUTION"),
        nbformat.v4.new_code_cell('check("9.1", double)'),
    ]
    for number, cell in enumerate(notebook.cells):
        cell["id"] = f"cell-{number:03d}"
    return notebook


def _copy_of_the_repository(target: Path) -> Path:
    """The repository's files as they are now (tracked and new, nothing ignored)."""
    listed = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=ROOT,
                            capture_output=True, check=True).stdout.decode().split("\0")
    for name in filter(None, listed):
        source = ROOT / name
        if source.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)
    return target


def test_a_new_lab_is_generated_graded_benchmarked_and_tested_by_adding_two_files(tmp_path):
    copy = _copy_of_the_repository(tmp_path / "repo")
    (copy / "checks" / "lab09.py").write_text(CHECK_MODULE, encoding="utf-8")
    nbformat.write(_solution(), copy / "solutions" / "09-toy.ipynb")
    # The copy's packages, not the installed ones, in every process (kernels included).
    env = {**os.environ, "PYTHONPATH": str(copy), "LAB_STATE_DIR": str(tmp_path / "state")}

    def python(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, *args], cwd=copy, env=env, capture_output=True,
                              text=True, timeout=120)

    generated = python("-m", "checks.labgen")
    assert generated.returncode == 0 and "labs/09-toy.ipynb" in generated.stdout, generated

    # The grader (an emulator of its own and a kernel per notebook) is the slow part: it runs
    # while the rest is tried.
    grader = subprocess.Popen([sys.executable, "-m", "checks", "labs/09-toy.ipynb",
                               "solutions/09-toy.ipynb", "--json"], cwd=copy, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        benched = python("-c", "from bench.checks_bench import check_latency\n"
                               "print(check_latency(9, repeat=3))")
        assert "check 9.1 on the solution (2 cases, 3 runs)" in benched.stdout, benched

        mutants = python("-c", "import sys; sys.path.insert(0, 'tests')\n"
                               "from mutants import escaped, refused\n"
                               "print(escaped([('9.1', 'adds two', (lambda n: n + 2,), "
                               "'double(7)')]), refused([('9.1', lambda n: n * 2)]))")
        assert mutants.stdout.strip() == "[] []", mutants

        tested = python("-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/test_labgen.py")
        assert tested.returncode == 0, tested.stdout + tested.stderr

        out, err = grader.communicate(timeout=180)
    finally:
        grader.kill()
    report = {Path(n["path"]).parent.name: n for n in json.loads(out)["notebooks"]}
    [lab] = report["labs"]["exercises"]
    assert lab["exercise"] == "9.1" and lab["message"].startswith("Not started"), report
    [solved] = report["solutions"]["exercises"]
    assert solved["status"] == "passed" and len(solved["results"]) == 2, (report, err)
