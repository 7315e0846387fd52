"""Cold start, provisioning and reset of the embedded environment."""

from __future__ import annotations

import statistics
import time

from environment import emulator
from environment.account import provision
from environment.settings import Settings, clear_clients

from .measure import Row, timed


def run(settings: Settings) -> list[Row]:
    starts = []
    for _ in range(3):
        clear_clients()  # as in a new process: no boto3 client built yet
        started = time.perf_counter()
        emulator.ensure_running(settings, lambda: provision.prepare_clients(settings))
        up = time.perf_counter()
        provision.ensure(settings)
        starts.append((up - started, time.perf_counter() - up))
        emulator.stop(settings)
    emulator.ensure_running(settings)
    provision.ensure(settings)
    resets = timed(lambda: provision.reset(settings), 5)
    return [
        ("cold start of the emulator, boto3 clients built meanwhile (median of 3)",
         f"{statistics.median(s for s, _ in starts):.2f} s", ""),
        ("provisioning a fresh account (median of 3)",
         f"{statistics.median(p for _, p in starts):.2f} s", ""),
        ("start + provisioning (median of 3)",
         f"{statistics.median(s + p for s, p in starts):.2f} s", "about 1 s"),
        ("reset to the provisioned state (median of 5)",
         f"{statistics.median(resets):.2f} s", ""),
    ]
