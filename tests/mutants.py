"""Run a check against deliberately broken solutions, and against correct variants.

A mutant table row is ``(exercise, bug, functions, catching case)``: a wrong
solution and a substring of the name of the case that must fail on it. Naming
the case matters: a mutant caught by the wrong case means the case meant for
that bug has lost its teeth (another case only happens to cover it today).
A benign row is ``(exercise, *functions)``: a correct answer written
differently, which the check must pass.
"""

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
        elif "bug in the kit" in outcome.message or "Traceback" in outcome.message:
            slipped.append(f"{exercise} {bug}: the report blames the kit: {outcome.message}")
    return slipped


def refused(benign: Iterable[tuple]) -> list[str]:
    """Correct variants that a check failed or skipped a case on (a check too strict)."""
    wrong = []
    for exercise, *functions in benign:
        outcome = run(exercise, *functions)
        if not outcome.passed or outcome.skipped:
            names = ", ".join(getattr(f, "__name__", "?") for f in functions)
            wrong.append(f"{exercise} ({names}): {outcome.message[:400]} {outcome.skipped}")
    return wrong


def assert_caught(table: list[Mutant]) -> None:
    """An exercise's mutant table: at least 8 plausible mistakes, each caught by its own case
    with a teaching report (never one that blames the kit or shows a traceback)."""
    assert len(table) >= 8, f"{table[0][0] if table else 'an exercise'} needs at least 8 mutants"
    slipped = escaped(table)
    assert not slipped, "\n".join(slipped)


def assert_accepted(benign: Iterable[tuple]) -> None:
    """An exercise's benign variants: every correct answer written differently passes."""
    wrong = refused(benign)
    assert not wrong, "\n".join(wrong)
