"""``python -m environment up|down|status|reset|teardown``: the environment outside notebooks."""

from __future__ import annotations

import argparse
import sys
import time

from rich.console import Console

from . import emulator
from .account import pools, provision
from .errors import LabError
from .lab import connect, reset
from .settings import load_settings

console = Console(highlight=False, soft_wrap=True)


def cmd_up() -> None:
    started = time.perf_counter()
    lab = connect(quiet=True)
    console.print(lab.describe())
    console.print(f"[green]Ready[/green] in {time.perf_counter() - started:.1f} s. "
                  "Stop it with `make env-down`.")


def cmd_down() -> None:
    settings = load_settings()
    if emulator.stop(settings):
        console.print(f"Stopped the emulator on {settings.endpoint}.")
    else:
        console.print(f"No lab emulator was running on {settings.endpoint}.")


def cmd_status() -> None:
    settings = load_settings()
    found = emulator.probe(settings) if settings.endpoint else None
    if found is not None and found.state == "free":
        console.print(f"Not running: nothing answers on {settings.endpoint}. "
                      "Start it with `make env`.")
        raise SystemExit(1)
    if found is not None and found.state == "foreign" and settings.embedded:
        console.print(f"[red]Another program holds {settings.endpoint}[/red] ({found.detail}).")
        raise SystemExit(1)
    pid = f" (pid {found.pid})" if found is not None and found.pid else ""
    identity = pools.find_identity(settings)
    if identity is None:
        console.print(f"Running{pid}, but not provisioned. Run `make env` to provision it.")
        raise SystemExit(1)
    console.print(f"Running{pid}.")
    console.print(connect(quiet=True, settings=settings).describe())
    if settings.embedded:
        from .emulator.emf.status import agent_status

        agent = agent_status(settings, settle=False)
        state = ("listening" if agent["listening"] else
                 f"[red]not listening[/red] ({agent['error']})")
        console.print(f"EMF agent on {agent['endpoint']}: {state}; {agent['stored']} events "
                      f"stored, {agent['malformed']} malformed (log: {agent['log']}).")


def cmd_reset() -> None:
    started = time.perf_counter()
    reset(quiet=True)
    console.print(f"Reset to the provisioned state in {time.perf_counter() - started:.1f} s.")


def cmd_teardown() -> None:
    deleted = provision.teardown(load_settings())
    console.print("Deleted: " + (", ".join(deleted) if deleted else "nothing (no lab resources)."))


COMMANDS = {"up": cmd_up, "down": cmd_down, "status": cmd_status, "reset": cmd_reset,
            "teardown": cmd_teardown}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m environment", description=__doc__)
    parser.add_argument("command", choices=sorted(COMMANDS))
    args = parser.parse_args(argv)
    try:
        COMMANDS[args.command]()
    except LabError as error:
        console.print(f"[red]{error.problem}[/red]")
        if error.fix:
            console.print(f"What to do: {error.fix}")
        sys.exit(2)


if __name__ == "__main__":
    main()
