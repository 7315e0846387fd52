"""Run a check against deliberately broken solutions and report any that slip through."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from checks import run

Mutant = tuple[str, str, tuple[Callable, ...], str]  # exercise, bug, functions, catching case


def escaped(mutants: Iterable[Mutant]) -> list[str]:
    """Mutants that passed, or that failed on a case other than the one meant to catch them."""
    slipped = []
    for exercise, bug, functions, catching_case in mutants:
        outcome = run(exercise, *functions)
        if outcome.passed or catching_case not in (outcome.failed_case or ""):
            slipped.append(f"{exercise} {bug}: {outcome.failed_case!r} {outcome.message[:300]}")
    return slipped
