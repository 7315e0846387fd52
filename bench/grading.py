"""Grading a class: 30 submissions of lab 1, graded in parallel as an instructor would.

The submissions are copies of the lab 1 solution (every check runs to the end, the slowest
case for the grader). Each worker slot has its own emulator, as in `python -m checks --jobs`.
Besides the wall time it reports the CPU seconds of the whole process tree (kernels,
emulators, the grader): on a machine others share, that is the figure to compare.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from checks.batch import grade_many

from .cpu import measured
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
        with measured() as cost:
            results = grade_many(submissions, jobs=jobs)
    failed = [str(r.path) for r in results if not r.ok]
    if failed:
        raise RuntimeError(f"the solution did not pass when graded: {failed[:3]}")
    parts = ", ".join(f"{name} {seconds:.0f} s" for name, seconds in
                      sorted(cost.by_kind.items(), key=lambda item: -item[1]) if seconds >= 1)
    return [(f"grading {class_size} submissions of lab 1 with --jobs {jobs}",
             f"{cost.wall_s:.0f} s ({cost.wall_s / class_size:.1f} s each)", f"under {TARGET_S} s"),
            (f"CPU of that grading, all processes ({parts})",
             f"{cost.cpu_s:.0f} s ({cost.cpu_s / class_size:.1f} s each)", "")]
