"""How long each check takes on the solution, and how fast tokens verify."""

from __future__ import annotations

import time

import psutil

from checks import run as run_check
from checks.discovery import lab_numbers
from checks.notebook_code import exercise_ids, functions_for, namespace, solution_path
from environment import emulator
from environment.app.auth import verify_id_token
from environment.lab import connect
from environment.settings import Settings

from .measure import Row, ms, timed


def run(settings: Settings, repeat: int = 10) -> list[Row]:
    pid = emulator.ensure_running(settings)
    rows: list[Row] = []
    rss_before = psutil.Process(pid).memory_info().rss
    for lab_number in lab_numbers():
        rows += check_latency(lab_number, repeat)
    lab = connect(quiet=True, settings=settings)
    token = lab.id_token("alice@tenant-a.example.com")
    verify_id_token(lab.identity, token)  # loads the JWKS once
    count = 2000
    started = time.perf_counter()
    for _ in range(count):
        verify_id_token(lab.identity, token)
    rate = count / (time.perf_counter() - started)
    rows.append(("token verification, JWKS cached", f"{rate:,.0f} tokens/s", ""))
    rss_after = psutil.Process(pid).memory_info().rss
    rows.append(("emulator RSS before the checks", f"{rss_before / 2**20:.0f} MiB", ""))
    rows.append((f"emulator RSS after all checks x {repeat + 1}", f"{rss_after / 2**20:.0f} MiB",
                 ""))
    return rows


def check_latency(lab_number: int, repeat: int = 10) -> list[Row]:
    """One row per exercise of a lab: its check on the solution's functions, timed.

    A check that needs the account connects to the lab the environment settings name.
    """
    solution = namespace(solution_path(lab_number))
    rows: list[Row] = []
    for exercise in exercise_ids(lab_number):
        functions = functions_for(exercise, solution)
        outcome = run_check(exercise, *functions)
        if not outcome.passed:
            raise RuntimeError(f"check {exercise} fails on the solution: {outcome.message}")
        samples = timed(lambda ex=exercise, fns=functions: run_check(ex, *fns), repeat)
        rows.append((f"check {exercise} on the solution ({outcome.cases} cases, "
                     f"{repeat} runs)", ms(samples), ""))
    return rows
