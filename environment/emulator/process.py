"""Start, find, reuse and stop the embedded emulator process.

The emulator is a detached process with a pid file and a log under the state
directory, so it survives kernel restarts and ``make env-down`` can stop it from
any shell. Before starting, we ask whoever holds the port who they are: our own
emulator is reused, anything else gets a message that names the port and how to
pick another one.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import requests

from ..errors import LabError
from ..settings import Settings
from .server import HEALTH_PATH, SERVICE_NAME, code_version

START_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class Probe:
    """Who answers on the endpoint: nobody, our emulator (with its pid), or something else."""

    state: Literal["free", "ours", "foreign"]
    pid: int | None = None
    detail: str = ""
    version: str = ""


def probe(settings: Settings, timeout: float = 1.0) -> Probe:
    try:
        response = requests.get(f"{settings.endpoint}{HEALTH_PATH}", timeout=timeout)
    except requests.ConnectionError:
        return Probe("free")
    except requests.RequestException as error:
        return Probe("foreign", detail=f"it does not answer HTTP ({type(error).__name__})")
    try:
        info = response.json()
    except ValueError:
        info = {}
    if response.ok and isinstance(info, dict) and info.get("service") == SERVICE_NAME:
        return Probe("ours", pid=info.get("pid"), version=str(info.get("version", "")))
    server = response.headers.get("Server", "an unknown server")
    return Probe("foreign", detail=f"HTTP {response.status_code} from {server}")


def free_port() -> int:
    """A port nobody listens on right now (for test sessions and benchmarks)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def pid_file(settings: Settings) -> Path:
    return settings.state_dir / f"emulator-{settings.port}.pid"


def log_file(settings: Settings) -> Path:
    return settings.state_dir / f"emulator-{settings.port}.log"


def _port_taken(settings: Settings, detail: str) -> LabError:
    other = settings.port + 1
    return LabError(
        f"Port {settings.port} on {settings.host} is used by another program ({detail}), "
        "so the lab environment cannot start there.",
        f"stop that program (LocalStack? `docker ps`), or choose another port: "
        f"`LAB_PORT={other} make lab` (or set LAB_PORT={other} before starting Jupyter).",
    )


def ensure_running(settings: Settings,
                   while_starting: Callable[[], object] | None = None) -> int:
    """Return the pid of our emulator on the settings' port, starting it if needed.

    ``while_starting`` runs in this process while the emulator process boots
    (building boto3 clients takes as long as moto's imports: do both at once).
    """
    if not settings.embedded:
        raise LabError(
            f"The kit only starts its own emulator; the settings point at {settings.target}.",
            "start LocalStack yourself (environment/docker-compose.yml), or unset LAB_ENDPOINT.",
        )
    found = probe(settings)
    if found.state == "ours" and found.version == code_version():
        return found.pid or 0
    if found.state == "ours":  # started by an older version of the kit: its data is stale too
        stop(settings)
        return _start(settings, while_starting)
    if found.state == "foreign":
        raise _port_taken(settings, found.detail)
    return _start(settings, while_starting)


def _start(settings: Settings, while_starting: Callable[[], object] | None = None) -> int:
    settings.state_dir.mkdir(parents=True, exist_ok=True)
    log = log_file(settings)
    with log.open("ab") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "environment.emulator.server", "--host", settings.host,
             "--port", str(settings.port)],
            stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            cwd=Path(__file__).resolve().parent.parent, start_new_session=True,
        )
    if while_starting is not None:
        while_starting()
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            tail = log.read_text(errors="replace").strip().splitlines()[-3:]
            if "Address already in use" in "\n".join(tail):
                raise _port_taken(settings, "it took the port while we were starting")
            raise LabError(
                f"The emulator stopped while starting (exit code {process.returncode}). "
                f"Last lines of {log}:\n    " + "\n    ".join(tail),
                "run `make env` in a terminal to see the whole error.",
            )
        found = probe(settings, timeout=0.5)
        if found.state == "ours":
            pid_file(settings).write_text(str(process.pid))
            return process.pid
        time.sleep(0.05)
    process.kill()
    raise LabError(
        f"The emulator did not answer within {START_TIMEOUT_S:.0f} s on {settings.endpoint}.",
        f"look at {log}; a very busy machine may need another try.",
    )


def stop(settings: Settings) -> bool:
    """Stop our emulator on the settings' port. Return whether one was running."""
    found = probe(settings)
    pid = found.pid if found.state == "ours" else None
    recorded = pid_file(settings)
    if pid is None and recorded.exists():
        pid = int(recorded.read_text().strip() or 0) or None
        if found.state == "foreign":
            pid = None  # the recorded process is gone and someone else holds the port
    recorded.unlink(missing_ok=True)
    if not pid:
        return False
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return False
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and probe(settings, timeout=0.2).state == "ours":
        time.sleep(0.05)
    return True
