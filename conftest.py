"""Test-session wiring shared by tests/ and the nbval run over solutions/.

The suite gets an emulator of its own on a free port, with its own state
folder, so `make test` never touches (or resets) the environment a person has
open in JupyterLab on 4566. The port goes into the environment before any
notebook kernel starts, and kernels inherit it.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

from environment.emulator import free_port

SANITIZE = Path(__file__).resolve().parent / "solutions" / "sanitize.cfg"


def pytest_configure(config: pytest.Config) -> None:
    # `pytest --nbval solutions/`, as an instructor types it, masks the few values that differ
    # between machines (the suite's own emulator port) without being told where the rules are.
    if hasattr(config.option, "nbval_sanitize_with") and not (
            config.option.nbval_sanitize_with or config.option.sanitize_with):
        config.option.nbval_sanitize_with = str(SANITIZE)
    if os.environ.get("LAB_TEST_KEEP_ENDPOINT") == "1":
        return
    for name in ("LAB_ENDPOINT", "AWS_ENDPOINT_URL", "LAB_EMBEDDED", "LAB_PREFIX",
                 "AWS_EMF_AGENT_ENDPOINT"):
        os.environ.pop(name, None)
    os.environ["LAB_PORT"] = str(free_port())
    os.environ["LAB_EMF_PORT"] = str(free_port())  # the EMF agent's, never another suite's
    os.environ["LAB_STATE_DIR"] = tempfile.mkdtemp(prefix="lab-test-state-")


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    from environment import emulator
    from environment.settings import load_settings

    emulator.stop(load_settings())
