"""The emulator process: reuse, port conflicts, stop, and the command line."""

from __future__ import annotations

import http.server
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from environment import emulator
from environment.emulator import free_port
from environment.errors import LabError
from environment.settings import Settings, load_settings

ROOT = Path(__file__).resolve().parent.parent


def settings_on(port: int, state: Path) -> Settings:
    return load_settings({"LAB_PORT": str(port), "LAB_STATE_DIR": str(state)})


@pytest.fixture
def foreign_server():
    """Something that is not our emulator, holding a port."""
    server = http.server.HTTPServer(("127.0.0.1", 0), http.server.SimpleHTTPRequestHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def test_our_running_emulator_is_recognised_and_reused(lab, settings):
    found = emulator.probe(settings)
    assert found.state == "ours" and found.pid
    assert emulator.ensure_running(settings) == found.pid


def test_a_port_held_by_another_program_gets_a_clear_error(foreign_server, tmp_path):
    settings = settings_on(foreign_server, tmp_path)
    assert emulator.probe(settings).state == "foreign"
    with pytest.raises(LabError) as raised:
        emulator.ensure_running(settings)
    message = str(raised.value)
    assert f"Port {foreign_server}" in message and "another program" in message
    assert f"LAB_PORT={foreign_server + 1}" in message
    assert not emulator.stop(settings), "stop must never kill a program that is not ours"


def test_start_and_stop_on_a_port_of_its_own(tmp_path):
    settings = settings_on(free_port(), tmp_path)
    assert emulator.probe(settings).state == "free"
    pid = emulator.ensure_running(settings)
    try:
        assert emulator.probe(settings).pid == pid
        assert emulator.pid_file(settings).read_text() == str(pid)
    finally:
        assert emulator.stop(settings)
    assert emulator.probe(settings).state == "free"
    assert not emulator.pid_file(settings).exists()
    assert not emulator.stop(settings)


def test_the_kit_refuses_to_start_an_emulator_it_does_not_own(tmp_path):
    settings = load_settings({"LAB_ENDPOINT": "http://127.0.0.1:4566", "LAB_EMBEDDED": "0"})
    with pytest.raises(LabError, match="only starts its own emulator"):
        emulator.ensure_running(settings)


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    import os

    return subprocess.run([sys.executable, "-m", "environment", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=120,
                          env={**os.environ, **(env or {})})


def test_cli_status_describes_the_running_environment(lab):
    result = run_cli("status")
    assert result.returncode == 0, result.stderr
    assert "Running (pid" in result.stdout and "tenant-c  premium   silo" in result.stdout


def test_cli_reports_a_port_conflict_without_a_traceback(foreign_server, tmp_path):
    result = run_cli("up", env={"LAB_PORT": str(foreign_server), "LAB_STATE_DIR": str(tmp_path)})
    assert result.returncode == 2
    assert "used by another program" in result.stdout and "What to do" in result.stdout
    assert "Traceback" not in result.stdout + result.stderr


def test_cli_status_of_a_stopped_environment_says_how_to_start(tmp_path):
    result = run_cli("status", env={"LAB_PORT": str(free_port()), "LAB_STATE_DIR": str(tmp_path)})
    assert result.returncode == 1 and "make env" in result.stdout
