"""`make bench`: how fast the environment starts, how long checks take, what the gate costs,
and how long grading a class takes.

Runs against emulators of its own on free ports, so it never disturbs an
environment someone has open. Results are medians (and p95) of repeated runs.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable

from rich.console import Console
from rich.table import Table

from environment import emulator
from environment.settings import load_settings

from . import checks_bench, emf_bench, gate, grading, partners, queues, startup
from .measure import Row


def _section(name: str, run: Callable[[], list[Row]]) -> list[Row]:
    """One section's rows, or one row saying why it failed (the other sections still run)."""
    try:
        return run()
    except Exception as error:  # noqa: BLE001 - reported in the table
        return [(f"{name}: FAILED", type(error).__name__, str(error).splitlines()[0][:60])]


def main() -> None:
    os.environ["LAB_PORT"] = os.environ.get("LAB_BENCH_PORT") or str(emulator.free_port())
    os.environ["LAB_STATE_DIR"] = tempfile.mkdtemp(prefix="lab-bench-")
    os.environ["LAB_EMF_PORT"] = os.environ.get("LAB_BENCH_EMF_PORT") or str(emulator.free_port())
    settings = load_settings()
    console = Console(width=130)
    rows = []
    try:
        console.print("[dim]start-up and provisioning ...[/dim]")
        rows += startup.run(settings)
        console.print("[dim]checks on the solutions ...[/dim]")
        rows += _section("checks on the solutions", lambda: checks_bench.run(settings))
        console.print("[dim]lab 4's queue experiments ...[/dim]")
        rows += _section("lab 4's queue experiments", lambda: queues.run(settings))
        console.print("[dim]EMF agent and log queries ...[/dim]")
        rows += _section("EMF agent and log queries", lambda: emf_bench.run(settings))
        console.print("[dim]lab 6's partner API and drill ...[/dim]")
        rows += _section("lab 6's partner API and drill", lambda: partners.run(settings))
    finally:
        emulator.stop(settings)
    console.print("[dim]IAM gate against plain moto ...[/dim]")
    rows += gate.run()
    console.print("[dim]grading a class of 30 ...[/dim]")
    rows += grading.run()
    table = Table(title=f"saas-lab-kit benchmarks ({os.cpu_count()} cores)", title_justify="left")
    table.add_column("measure")
    table.add_column("result", justify="right")
    table.add_column("target")
    for row in rows:
        table.add_row(*row)
    console.print(table)


if __name__ == "__main__":
    main()
