"""The repository as repo2docker (Binder, JupyterHub images) sees it: the files it reads, and
the two scripts it runs, run here in a scratch copy without Docker.

repo2docker reads only the ``binder/`` folder when there is one: ``runtime.txt`` (the Python),
``requirements.txt`` (installed with pip; a ``-r`` reference to another file makes it copy the
whole repository first), ``postBuild`` (run once at build time, from the repository) and
``start`` (run each time a server starts, ending with ``exec "$@"``).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import stat
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import zmq

from environment import emulator
from environment.account import pools
from environment.settings import load_settings

ROOT = Path(__file__).resolve().parent.parent
BINDER = ROOT / "binder"


def test_repo2docker_finds_python_the_locked_requirements_and_both_hooks():
    runtime = (BINDER / "runtime.txt").read_text(encoding="utf-8").strip()
    version = re.fullmatch(r"python-3\.(\d+)", runtime)
    assert version, runtime
    needed = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"][
        "requires-python"]
    assert needed == f">=3.{version.group(1)}", (needed, runtime)
    lines = [line.strip() for line in (BINDER / "requirements.txt").read_text().splitlines()
             if line.strip() and not line.startswith("#")]
    assert lines == ["-r ../requirements.txt"]  # the lock's export, relative to binder/
    assert (ROOT / "requirements.txt").is_file()
    for hook in ("postBuild", "start"):
        mode = (BINDER / hook).stat().st_mode
        assert mode & stat.S_IXUSR, f"binder/{hook} must be executable"
    assert (BINDER / "start").read_text().rstrip().endswith('exec "$@"')


def _scratch_copy(tmp_path: Path) -> Path:
    copy = tmp_path / "repo"
    shutil.copytree(BINDER, copy / "binder")
    return copy


def _python_that_records_pip(prefix: Path, log: Path) -> Path:
    """``prefix/bin/python``: records pip installs (with its prefix, no network), runs the rest."""
    shim = prefix / "bin" / "python"
    shim.parent.mkdir(parents=True)
    record = f"echo \"{prefix.name} $*\" >> '{log}'; exit 0"
    shim.write_text("#!/usr/bin/env bash\n"
                    f'if [ "$1 $2" = "-m pip" ]; then {record}; fi\n'
                    f'exec "{sys.executable}" "$@"\n', encoding="utf-8")
    shim.chmod(0o755)
    return shim


def test_post_build_installs_the_kit_for_kernels_and_the_settings_for_the_server(tmp_path):
    """As repo2docker may split them: the kernels' environment and the server's."""
    repo, log = _scratch_copy(tmp_path), tmp_path / "pip.log"
    kernel, server = tmp_path / "kernel", tmp_path / "server"
    _python_that_records_pip(kernel, log)
    _python_that_records_pip(server, log)
    env = {**os.environ, "KERNEL_PYTHON_PREFIX": str(kernel), "NB_PYTHON_PREFIX": str(server)}
    done = subprocess.run(["bash", "binder/postBuild"], cwd=repo, env=env, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert log.read_text().splitlines() == [
        "kernel -m pip install --no-cache-dir --no-deps -e ."]
    settings = server / "share" / "jupyter" / "lab" / "settings" / "overrides.json"
    assert json.loads(settings.read_text()) == json.loads(
        (BINDER / "jupyterlab-overrides.json").read_text())
    config = server / "etc" / "jupyter" / "jupyter_server_config.d" / "saas-lab-kit.json"
    if zmq.has("curve"):
        assert json.loads(config.read_text()) == json.loads(
            (BINDER / "jupyter_server_config.json").read_text())
        assert json.loads(config.read_text())["MappingKernelManager"][
            "transport_encryption"] == "auto"
    else:
        assert not config.exists()


def test_the_start_hook_starts_the_users_emulator_and_then_the_server(tmp_path):
    kernel = tmp_path / "kernel"
    _python_that_records_pip(kernel, tmp_path / "pip.log")
    env = {**os.environ, "KERNEL_PYTHON_PREFIX": str(kernel), "PYTHONPATH": str(ROOT),
           "LAB_PORT": str(emulator.free_port()), "LAB_STATE_DIR": str(tmp_path / "state")}
    settings = load_settings(env)
    try:
        done = subprocess.run([str(BINDER / "start"), "python", "-c", "print('the server')"],
                              cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        assert done.stdout.strip() == "the server"  # the hook hands over to the server command
        # The emulator boots and is provisioned in the background: a bounded wait, not a timed one.
        for _ in range(1200):
            if emulator.probe(settings, timeout=0.5).state == "ours" and \
                    pools.find_identity(settings) is not None:
                break
            time.sleep(0.05)
        assert pools.find_identity(settings) is not None, "the start hook provisioned no account"
    finally:
        emulator.stop(settings)
