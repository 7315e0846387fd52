"""Graders for every exercise: ``from checks import check`` then ``check("1.2", verify_token)``."""

from __future__ import annotations

from collections.abc import Callable

from .discovery import load_labs
from .framework import DEFAULT_TIMEOUT_S, REGISTRY, Outcome, hints, run
from .results import show
from .tracking import progress, remember

__all__ = ["check", "hint", "progress", "run", "REGISTRY", "Outcome"]

load_labs()


def check(exercise_id: str, *functions: Callable, timeout: float = DEFAULT_TIMEOUT_S) -> None:
    """Check an exercise, print a pass mark or the first failing case, and record the outcome."""
    from environment.lab import install_notebook_errors

    install_notebook_errors()
    outcome = run(exercise_id, *functions, timeout=timeout)
    remember(outcome)
    show(outcome)


def hint(exercise_id: str) -> None:
    """Print every hint for an exercise, down to the code-level step (``hint("1.2")``)."""
    print(hints(exercise_id))
