"""Where a learner stands across all labs: each exercise's latest check, kept on disk.

Every ``check(...)`` in a notebook remembers its outcome in the state folder (``.lab/``, beside
the emulator's log), so progress survives kernel restarts and shows across notebooks.
``progress()`` in a notebook, or ``make progress`` in a terminal, lists every exercise of every
lab: passed, failed, not started, or never checked.
"""

from __future__ import annotations

import html
import json
from dataclasses import dataclass
from pathlib import Path

from environment.settings import load_settings

from .framework import REGISTRY, Outcome
from .results import BADGES

FILE = "progress.json"
NEVER = "not checked yet"


def _path() -> Path:
    return load_settings().state_dir / FILE


def _read(path: Path) -> dict[str, str]:
    try:
        states = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return states if isinstance(states, dict) else {}


def remember(outcome: Outcome) -> None:
    """Keep the exercise's latest state; an unknown exercise id is not progress."""
    if outcome.exercise not in REGISTRY:
        return
    path = _path()
    states = _read(path)
    states[outcome.exercise] = outcome.state
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(states, indent=1, sort_keys=True), encoding="utf-8")
    except OSError:
        pass  # a read-only checkout still checks; it only forgets


@dataclass
class Progress:
    """Every exercise's state, with a text and an HTML face like a check report."""

    rows: list[tuple[str, str, str]]  # exercise, title, state

    @property
    def passed(self) -> int:
        return sum(state == "passed" for _, _, state in self.rows)

    def __repr__(self) -> str:
        lines = [f"Progress: {self.passed} of {len(self.rows)} exercises pass"]
        lab = None
        for exercise, title, state in self.rows:
            if exercise.split(".")[0] != lab:
                lab = exercise.split(".")[0]
                lines.append(f"  Lab {lab}")
            lines.append(f"    {exercise:<5} {state:<16} {title}")
        return "\n".join(lines)

    def _repr_pretty_(self, printer, cycle: bool) -> None:  # noqa: ANN001 - IPython's printer
        printer.text(repr(self))

    def _repr_html_(self) -> str:
        cells = []
        for exercise, title, state in self.rows:
            label, colour = BADGES.get(state, ("NOT CHECKED YET", "#6e7781"))
            cells.append(
                f'<tr><td style="text-align:left;padding:1px 8px 1px 0">{exercise}</td>'
                f'<td style="text-align:left;padding:1px 8px 1px 0"><span style="background:'
                f'{colour};color:#fff;border-radius:3px;padding:0 5px;font-size:85%">{label}'
                f'</span></td><td style="text-align:left">{html.escape(title)}</td></tr>')
        return (f"<div><b>Progress: {self.passed} of {len(self.rows)} exercises pass</b>"
                f'<table style="border-collapse:collapse;margin-left:0;table-layout:auto">'
                f'{"".join(cells)}</table></div>')


def progress(lab: int | None = None) -> Progress:
    """The state of every exercise of every lab (or of one lab), from the checks run so far."""
    states = _read(_path())
    exercises = sorted((e for e in REGISTRY.values() if lab is None or e.lab == lab),
                       key=lambda e: e.order)
    return Progress([(e.id, e.title, states.get(e.id, NEVER)) for e in exercises])
