"""`python -m checks`: the lab fails every exercise, the solution passes them all."""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat

from checks.notebook_code import exercise_ids

ROOT = Path(__file__).resolve().parent.parent


def grade(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "checks", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=600, env=dict(os.environ))


def test_every_check_fails_on_the_labs_and_passes_on_the_solutions(lab):
    result = grade("labs", "solutions", "--json")
    assert result.returncode == 1, result.stderr
    report = json.loads(result.stdout)
    by_path = {Path(n["path"]).as_posix(): n for n in report["notebooks"]}
    assert sorted(by_path) == sorted(path.relative_to(ROOT).as_posix()
                                     for folder in ("labs", "solutions")
                                     for path in (ROOT / folder).glob("*.ipynb"))
    solved = 0
    for path, notebook in by_path.items():
        assert [e["exercise"] for e in notebook["exercises"]] == exercise_ids(notebook["lab"])
        if path.startswith("labs/"):
            assert all(e["status"] == "failed" and e["message"].startswith("Not started")
                       for e in notebook["exercises"]), notebook
        else:
            assert notebook["ok"] and not notebook["cell_errors"], notebook
            assert all(case["result"] == "passed" for e in notebook["exercises"]
                       for case in e["results"]), notebook
            solved += len(notebook["exercises"])
    assert report["passed"] == solved and report["total"] == 2 * solved
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


def _submission(folder: Path, name: str, *sources: str) -> Path:
    notebook = nbformat.v4.new_notebook(metadata={"lab": {"number": 1}})
    notebook.cells = [nbformat.v4.new_code_cell(source) for source in sources]
    path = folder / name
    nbformat.write(notebook, path)
    return path


def test_a_class_is_graded_in_parallel_and_broken_submissions_never_stop_the_run(tmp_path):
    """Each submission has its own account: one that stops its emulator or deletes every table
    changes nobody else's grade, and the CSV has a row per submission, a column per exercise."""
    shutil.copy(ROOT / "solutions" / "01-tenant-context.ipynb", tmp_path / "05-good.ipynb")
    connect = "from environment.lab import connect\nlab = connect(fresh=True, quiet=True)"
    _submission(tmp_path, "01-stops-the-emulator.ipynb", connect,
                "from environment import emulator\nemulator.stop(lab.settings)")
    _submission(tmp_path, "02-deletes-every-table.ipynb", connect,
                "ddb = lab.client('dynamodb')\n"
                "for name in ddb.list_tables()['TableNames']:\n"
                "    ddb.delete_table(TableName=name)")
    (tmp_path / "03-not-json.ipynb").write_text("{ this is not a notebook", encoding="utf-8")
    result = grade(str(tmp_path), "--jobs", "2", "--csv", str(tmp_path / "grades.csv"),
                   "--json", str(tmp_path / "g.json"))
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Summary: submissions that passed each exercise" in result.stdout
    graded = {Path(n["path"]).name: n for n in
              json.loads((tmp_path / "g.json").read_text())["notebooks"]}
    assert graded["05-good.ipynb"]["ok"], graded["05-good.ipynb"]
    assert "cannot read the notebook" in graded["03-not-json.ipynb"]["problem"]
    for name in ("01-stops-the-emulator.ipynb", "02-deletes-every-table.ipynb"):
        assert not graded[name]["cell_errors"], graded[name]
        assert {e["status"] for e in graded[name]["exercises"]} == {"not run"}
    rows = list(csv.DictReader((tmp_path / "grades.csv").open(encoding="utf-8")))
    assert [Path(r["notebook"]).name for r in rows] == sorted(graded)
    good = next(r for r in rows if r["notebook"].endswith("05-good.ipynb"))
    assert good["passed"] == good["total"] == str(len(exercise_ids(1)))
    assert [good[e] for e in exercise_ids(1)] == ["passed"] * len(exercise_ids(1))


def test_a_notebook_of_many_slow_cells_ends_at_its_total_time_limit(tmp_path):
    _submission(tmp_path, "01-slow.ipynb", *["import time\ntime.sleep(2)"] * 4)
    result = grade(str(tmp_path), "--json", "--timeout", "60", "--notebook-timeout", "3")
    graded = json.loads(result.stdout)["notebooks"][0]
    assert "ran longer than 3 s in all" in graded["problem"]


def test_a_tampered_submission_is_graded_on_what_its_functions_do(tmp_path):
    """Check cells deleted or replaced by a printed pass mark, a results file written by hand,
    a forged grader line: the grader puts the check cells back and reads only its own cells."""
    notebook = nbformat.read(ROOT / "labs" / "01-tenant-context.ipynb", as_version=4)
    solution = nbformat.read(ROOT / "solutions" / "01-tenant-context.ipynb", as_version=4)
    by_id = {c["id"]: c for c in solution.cells}
    checks = [c for c in notebook.cells if c.cell_type == "code" and "check(" in c.source]
    for cell in notebook.cells:  # 1.1 solved for real; every other exercise left as the stub
        if cell.cell_type == "code" and "def sign_in(" in cell.source:
            cell.source = by_id[cell["id"]].source
    notebook.cells.remove(checks[0])  # the check of 1.1 deleted: it comes back, and passes
    checks[1].source = 'print("\N{WHITE HEAVY CHECK MARK} 1.2 verify a token: all cases passed")'
    notebook.cells.append(nbformat.v4.new_code_cell(
        "import json, os\n"
        "open(os.environ.get('LAB_RESULTS', 'results.jsonl'), 'w').write(json.dumps(\n"
        "    {'exercise': '1.3', 'passed': True, 'message': 'all passed'}))\n"
        "print('LAB-GRADE ' + json.dumps({'exercise': '1.4', 'passed': True, 'state': 'passed',\n"
        "                                 'message': 'all passed'}))"))
    path = tmp_path / "01-tampered.ipynb"
    nbformat.write(notebook, path)
    result = grade(str(path), "--json", "--jobs", "1")
    graded = json.loads(result.stdout)["notebooks"][0]
    status = {e["exercise"]: e["status"] for e in graded["exercises"]}
    assert status == {e: "passed" if e == "1.1" else "failed" for e in exercise_ids(1)}, graded


def test_the_class_csv_says_how_many_cases_a_failed_exercise_passed(tmp_path):
    from checks.classlist import write_csv
    from checks.grade import ExerciseResult, NotebookResult

    cases = [{"name": n, "result": r, "detail": ""} for n, r in
             (("a", "passed"), ("b", "passed"), ("c", "failed"))]
    graded = NotebookResult(Path("s/01.ipynb"), 1, [
        ExerciseResult("1.1", "sign in", "passed", "", cases[:2]),
        ExerciseResult("1.2", "verify", "failed", "Case failed: c", cases)])
    write_csv([graded], tmp_path / "g.csv")
    row = next(csv.DictReader((tmp_path / "g.csv").open(encoding="utf-8")))
    assert row["1.1"] == "passed" and row["1.2"] == "failed (2 of 3 cases passed)"


def test_graded_kernels_share_a_bytecode_cache_only_where_python_is_told_to_write_none(
        monkeypatch, tmp_path):
    from checks.batch import KERNEL_ENV, Slot, bytecode_cache

    monkeypatch.setenv("PYTHONDONTWRITEBYTECODE", "1")
    assert bytecode_cache(tmp_path) == {"PYTHONDONTWRITEBYTECODE": "",
                                        "PYTHONPYCACHEPREFIX": str(tmp_path / "pycache")}
    slot = Slot.new(tmp_path, 0)
    assert slot.env["PYTHONPYCACHEPREFIX"] == str(tmp_path / "pycache")
    assert slot.env["MPLBACKEND"] == KERNEL_ENV["MPLBACKEND"] == "agg"  # no figures drawn
    assert slot.settings.state_dir == tmp_path / "slot-0"
    monkeypatch.delenv("PYTHONDONTWRITEBYTECODE")
    assert bytecode_cache(tmp_path) == {}  # the install's own bytecode is used as it is


def test_a_kernel_that_fails_to_start_is_retried_then_reported_never_a_stop(tmp_path,
                                                                             monkeypatch):
    """nbclient can fail in its own clean-up when a kernel does not start on a loaded machine:
    that notebook is graded once more on a reset account, then reported; the run goes on."""
    from checks import batch

    calls: list[str] = []

    def flaky(path, *args, **kwargs):
        calls.append(path.name)
        if path.name == "always.ipynb" or calls.count(path.name) == 1:
            raise AssertionError("nbclient: self.km is None")  # as in _async_cleanup_kernel
        return batch.NotebookResult(path, 1)

    monkeypatch.setattr(batch, "grade", flaky)
    paths = [_submission(tmp_path, name, "1") for name in ("once.ipynb", "always.ipynb")]
    once, always = batch.grade_many(paths, jobs=1)
    assert once.problem == "" and calls.count("once.ipynb") == 2
    assert "could not run this notebook's kernel (2 tries): AssertionError" in always.problem
    assert calls.count("always.ipynb") == 2
