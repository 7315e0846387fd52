"""`make bench-install`: the minute a room waits for, measured as a new learner meets it.

Clones this repository into a temporary folder and, with an empty installer cache, times
the install step (`make venv`) and then `make lab` until JupyterLab answers. It needs the
package registry (that is what it measures), so it is not part of `make bench`. The
emulator and JupyterLab run on free ports, so an open lab on 4566 is never touched.
"""

from __future__ import annotations

import os
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import requests
from rich.console import Console
from rich.table import Table

from environment.emulator import free_port

from .measure import Row

ROOT = Path(__file__).resolve().parents[1]
INSTALL_TARGET_S, LAB_TARGET_S = 30, 45


def _clone(into: Path) -> Path:
    clone = into / "kit"
    subprocess.run(["git", "clone", "--quiet", str(ROOT), str(clone)], check=True)
    return clone


def _time_install(clone: Path, env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run(["make", "--no-print-directory", "venv"], cwd=clone, env=env, check=True)
    return time.perf_counter() - started


def _time_lab(clone: Path, env: dict[str, str]) -> float:
    """From `make lab` to JupyterLab answering, on a fresh clone (install included)."""
    port = free_port()
    token = "bench"
    args = f"--no-browser --port={port} --IdentityProvider.token={token}"
    started = time.perf_counter()
    lab = subprocess.Popen(["make", "--no-print-directory", "lab", f"LAB_ARGS={args}"],
                           cwd=clone, env=env, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = started + 300
        while time.perf_counter() < deadline:
            if lab.poll() is not None:
                raise RuntimeError(f"`make lab` ended with exit code {lab.returncode}")
            try:
                ready = requests.get(f"http://127.0.0.1:{port}/api/status",
                                     params={"token": token}, timeout=1).ok
            except requests.RequestException:
                ready = False
            if ready:
                return time.perf_counter() - started
            time.sleep(0.2)
        raise RuntimeError("JupyterLab did not answer within 300 s")
    finally:
        os.killpg(lab.pid, signal.SIGTERM)
        lab.wait(timeout=30)
        subprocess.run(["make", "--no-print-directory", "env-down"], cwd=clone, env=env,
                       capture_output=True, check=False)


def run() -> list[Row]:
    with tempfile.TemporaryDirectory(prefix="lab-bench-install-") as tmp:
        tmp_path = Path(tmp)
        env = {**os.environ, "UV_CACHE_DIR": str(tmp_path / "uv-cache"),
               "LAB_PORT": str(free_port()), "LAB_STATE_DIR": str(tmp_path / "state")}
        env.pop("VIRTUAL_ENV", None)
        install = _time_install(_clone(tmp_path / "a"), env)
        env["UV_CACHE_DIR"] = str(tmp_path / "uv-cache-2")
        lab = _time_lab(_clone(tmp_path / "b"), env)
    return [
        ("install from a fresh clone, empty installer cache (`make venv`)",
         f"{install:.1f} s", f"under {INSTALL_TARGET_S} s"),
        ("fresh clone to a ready JupyterLab (`make lab`, empty cache)",
         f"{lab:.1f} s", f"under {LAB_TARGET_S} s"),
    ]


def main() -> None:
    table = Table(title=f"install benchmarks ({os.cpu_count()} cores)", title_justify="left")
    for column in ("measure", "result", "target"):
        table.add_column(column)
    for row in run():
        table.add_row(*row)
    Console(width=130).print(table)


if __name__ == "__main__":
    main()
