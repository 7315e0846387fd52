"""The lock file is the one set of versions every learner, CI and next year's room install.

`make lock` writes uv.lock from pyproject.toml and exports requirements.txt from it (for pip,
the wheelhouse and Binder). A dependency added to pyproject.toml without `make lock` would
install in nobody's venv, so a stale lock or export fails here, offline, before it surprises
a room.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _uv() -> str:
    """The uv the Makefile uses (it passes UV), the one on PATH, or the one it bootstrapped."""
    for candidate in (os.environ.get("UV"), "uv", str(ROOT / ".tools" / "uv" / "bin" / "uv")):
        if candidate and shutil.which(candidate):
            return candidate
    pytest.skip("uv is not installed (INSTALLER=pip); `make lock` needs it")


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([_uv(), *args, "--offline", "--quiet"], cwd=ROOT, capture_output=True,
                          text=True, timeout=120, check=False)


def _requirements(text: str) -> list[str]:
    return [line for line in text.splitlines() if not line.startswith("#")]


def test_the_lock_matches_pyproject():
    checked = _run("lock", "--check")
    assert checked.returncode == 0, (
        "uv.lock is stale against pyproject.toml: run `make lock` and commit both files.\n"
        + checked.stderr[-2000:])


def test_requirements_txt_is_the_export_of_the_lock():
    exported = _run("export", "--locked", "--extra", "test", "--no-emit-project")
    assert exported.returncode == 0, exported.stderr[-2000:]
    committed = (ROOT / "requirements.txt").read_text(encoding="utf-8")
    assert _requirements(exported.stdout) == _requirements(committed), (
        "requirements.txt differs from uv.lock: run `make lock` and commit both files.")


def test_every_pinned_requirement_carries_hashes():
    text = (ROOT / "requirements.txt").read_text(encoding="utf-8")
    pins = [line for line in text.splitlines() if "==" in line and not line.startswith("#")]
    assert len(pins) > 50
    assert all(line.rstrip().endswith("\\") for line in pins), "every pin is followed by hashes"
