"""Grading a class: 30 submissions of lab 1, graded in parallel as an instructor would.

The submissions are copies of the lab 1 solution (every check runs to the end, the slowest
case for the grader). Each worker slot has its own emulator, as in `python -m checks --jobs`.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from pathlib import Path

from checks.batch import grade_many

from .measure import Row

ROOT = Path(__file__).resolve().parents[1]
CLASS_SIZE = 30
TARGET_S = 120


def run(class_size: int = CLASS_SIZE) -> list[Row]:
    jobs = os.cpu_count() or 1
    with tempfile.TemporaryDirectory(prefix="lab-bench-class-") as folder:
        submissions = []
        for number in range(class_size):
            path = Path(folder) / f"student-{number:02d}" / "01-tenant-context.ipynb"
            path.parent.mkdir()
            shutil.copy(ROOT / "solutions" / "01-tenant-context.ipynb", path)
            submissions.append(path)
        started = time.perf_counter()
        results = grade_many(submissions, jobs=jobs)
        elapsed = time.perf_counter() - started
    failed = [str(r.path) for r in results if not r.ok]
    if failed:
        raise RuntimeError(f"the solution did not pass when graded: {failed[:3]}")
    return [(f"grading {class_size} submissions of lab 1 with --jobs {jobs}",
             f"{elapsed:.0f} s ({elapsed / class_size:.1f} s each)", f"under {TARGET_S} s")]
