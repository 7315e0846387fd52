"""`make bench`: how fast the environment starts, how long checks take, what it costs.

Runs against an emulator of its own on a free port, so it never disturbs an
environment someone has open. Numbers are medians (and p95 where there are
enough samples) of repeated runs on this machine.
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from collections.abc import Callable

import psutil
from rich.console import Console
from rich.table import Table

os.environ["LAB_PORT"] = os.environ.get("LAB_BENCH_PORT") or ""
os.environ["LAB_STATE_DIR"] = tempfile.mkdtemp(prefix="lab-bench-")

from environment import emulator, provision  # noqa: E402
from environment.app.auth import verify_id_token  # noqa: E402
from environment.settings import load_settings  # noqa: E402

LAB1 = {"1.1": ("sign_in",), "1.2": ("verify_token",), "1.3": ("tenant_context",),
        "1.4": ("tenant_from_request",), "1.5": ("save_order", "list_orders"),
        "1.6": ("sharded_pk", "query_all_shards")}


def timed(fn: Callable[[], object], repeat: int) -> list[float]:
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - started)
    return samples


def p95(samples: list[float]) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def main() -> None:
    if not os.environ["LAB_PORT"]:
        os.environ["LAB_PORT"] = str(emulator.free_port())
    settings = load_settings()
    rows: list[tuple[str, str, str]] = []

    starts = []
    for _ in range(3):
        started = time.perf_counter()
        emulator.ensure_running(settings)
        up = time.perf_counter()
        provision.ensure(settings)
        starts.append((up - started, time.perf_counter() - up))
        emulator.stop(settings)
    rows.append(("cold start of the emulator (median of 3)",
                 f"{statistics.median(s for s, _ in starts):.2f} s", ""))
    rows.append(("provisioning a fresh account (median of 3)",
                 f"{statistics.median(p for _, p in starts):.2f} s", ""))
    rows.append(("start + provisioning (median of 3)",
                 f"{statistics.median(s + p for s, p in starts):.2f} s", "about 1 s"))

    pid = emulator.ensure_running(settings)
    from checks import run
    from checks.notebook_code import namespace
    from environment.lab import connect

    lab = connect(quiet=True, settings=settings)
    reset_samples = timed(lambda: provision.reset(settings), 5)
    rows.append(("reset to the provisioned state (median of 5)",
                 f"{statistics.median(reset_samples):.2f} s", ""))
    rss_idle = psutil.Process(pid).memory_info().rss

    solution = namespace("solutions/01-tenant-context.ipynb")
    for exercise, names in LAB1.items():
        functions = [solution[name] for name in names]
        outcome = run(exercise, *functions)
        assert outcome.passed, outcome.message
        samples = timed(lambda ex=exercise, fns=functions: run(ex, *fns), 10)
        rows.append((f"check {exercise} on the solution ({outcome.cases} cases, 10 runs)",
                     f"median {statistics.median(samples) * 1000:.0f} ms, "
                     f"p95 {p95(samples) * 1000:.0f} ms", ""))

    token = lab.id_token("alice@tenant-a.example.com")
    verify_id_token(lab.identity, token)  # loads the JWKS once
    count = 2000
    started = time.perf_counter()
    for _ in range(count):
        verify_id_token(lab.identity, token)
    rate = count / (time.perf_counter() - started)
    rows.append(("token verification, JWKS cached", f"{rate:,.0f} tokens/s", ""))

    rss_busy = psutil.Process(pid).memory_info().rss
    rows.append(("emulator RSS after provisioning", f"{rss_idle / 2**20:.0f} MiB", ""))
    rows.append(("emulator RSS after all lab 1 checks x 11", f"{rss_busy / 2**20:.0f} MiB", ""))
    emulator.stop(settings)

    table = Table(title=f"saas-lab-kit benchmarks ({os.cpu_count()} cores)", title_justify="left")
    table.add_column("measure")
    table.add_column("result", justify="right")
    table.add_column("target")
    for row in rows:
        table.add_row(*row)
    Console(width=120).print(table)


if __name__ == "__main__":
    main()
