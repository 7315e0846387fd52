"""How an exercise is checked: cases run against the learner's functions.

An exercise is a function that receives the learner's functions and a
``Trial`` (which also hands it the connected lab, ``t.lab``). It walks through
cases (happy ones and hostile ones), and the first case that goes wrong ends
the check with a report of what was sent, what came back, what was expected,
and a hint; the outcome keeps the result of every case that ran. Learner code
always runs in a worker thread with a time limit, so a function that hangs or
raises becomes a report, never a hung notebook or a traceback from our code.

Hints are progressive, so that an answer is never one failed run away: the
first report of a failing case gives the idea (``hint``); the code-level step
(``code_hint``) appears only when the same case fails again, or when the
learner asks for it with ``hint("1.2")``.
"""

from __future__ import annotations

import signal
import threading
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from environment.lab import Lab

DEFAULT_TIMEOUT_S = 15.0
OUR_CODE = (str(Path(__file__).resolve().parent), str(Path(__file__).resolve().parents[1] /
                                                      "environment"))


@dataclass(frozen=True)
class Exercise:
    id: str
    title: str
    needs: tuple[str, ...]  # the names of the learner functions, in the order check() takes them
    hint: str  # the idea: what to do, never the code
    run: Callable[..., None]
    code_hint: str = ""  # the concrete step, shown on a repeated failure or on request

    @property
    def lab(self) -> int:
        return int(self.id.split(".")[0])

    @property
    def order(self) -> tuple[int, ...]:
        """Sorts 1.2 before 1.10, as the notebook does."""
        return tuple(int(part) for part in self.id.split("."))


State = Literal["passed", "failed", "not started", "not checked"]
CaseState = Literal["passed", "failed", "skipped"]


@dataclass(frozen=True)
class CaseResult:
    """How one case of a check ended; ``detail`` says why a case was skipped."""

    name: str
    result: CaseState
    detail: str = ""

    def as_dict(self) -> dict[str, str]:
        return {"name": self.name, "result": self.result, "detail": self.detail}


@dataclass
class Outcome:
    exercise: str
    title: str
    passed: bool
    cases: int  # how many cases ran, the failing one included
    message: str
    failed_case: str | None = None
    results: list[CaseResult] = field(default_factory=list)  # one per case, in order
    # The report as labelled parts (sent, expected, got, hint, ...), for renderers other than text.
    fields: list[tuple[str, str]] = field(default_factory=list)
    state: State | None = None  # derived from ``passed`` unless the run says more

    def __post_init__(self) -> None:
        if self.state is None:
            self.state = "passed" if self.passed else "failed"

    @property
    def skipped(self) -> list[str]:
        """The cases that could not run here, each with the reason."""
        return [f"{r.name} ({r.detail})" for r in self.results if r.result == "skipped"]

    @property
    def passed_cases(self) -> int:
        return sum(r.result == "passed" for r in self.results)

    def as_dict(self) -> dict[str, Any]:
        return {"exercise": self.exercise, "title": self.title, "passed": self.passed,
                "state": self.state, "cases": self.cases, "failed_case": self.failed_case,
                "message": self.message, "skipped": self.skipped,
                "results": [r.as_dict() for r in self.results]}


REGISTRY: dict[str, Exercise] = {}

# How often each (exercise, case) has failed in a row in this process: the second failure of
# the same case earns the code-level hint. A pass of the exercise forgets its failures.
FAILURES: dict[tuple[str, str], int] = {}
LAST_FAILURE: dict[str, CaseFailed] = {}


def exercise(exercise_id: str, title: str, needs: tuple[str, ...], hint: str,
             code_hint: str = ""):
    """Register a check: ``@exercise("1.2", "Verify a token", ("verify_token",), hint=...)``."""

    def register(run: Callable[..., None]) -> Callable[..., None]:
        REGISTRY[exercise_id] = Exercise(exercise_id, title, needs, hint, run, code_hint)
        return run

    return register


class CaseFailed(Exception):
    """One case went wrong; carries the report the learner will read."""

    def __init__(self, case: str, expected: str, got: str, hint: str = "", sent: str = "",
                 code_hint: str = "") -> None:
        super().__init__(case)
        self.case, self.expected, self.got, self.hint, self.sent = case, expected, got, hint, sent
        self.code_hint = code_hint


class CannotCheck(Exception):
    """The environment cannot judge this exercise (say, an endpoint that does not enforce IAM).

    Not the learner's mistake and not a bug of the kit: the report says what is missing."""


class NotStarted(Exception):
    """The learner's function still raises NotImplementedError."""


class Raised(Exception):
    """The learner's function raised; keeps the original and where in learner code it happened."""

    def __init__(self, error: BaseException) -> None:
        super().__init__(f"{type(error).__name__}: {error}")
        self.error = error

    @property
    def where(self) -> str:
        frames = [f for f in traceback.extract_tb(self.error.__traceback__)
                  if not f.filename.startswith(OUR_CODE)]
        learner = [f for f in frames if "site-packages" not in f.filename]
        frame = (learner or frames or [None])[-1]
        if frame is None:
            return ""
        return f" (at line {frame.lineno}: {frame.line})" if frame.line else ""


class TimedOut(Exception):
    pass


def call_with_timeout(fn: Callable, *args: Any, timeout: float = DEFAULT_TIMEOUT_S,
                      **kwargs: Any) -> Any:
    """Run learner code in a daemon thread; a hang becomes TimedOut, an error becomes Raised."""
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = fn(*args, **kwargs)
        except BaseException as error:  # noqa: BLE001 - learner code may raise anything
            box["error"] = error

    if _ON_THIS_THREAD.active and _can_alarm():
        return _call_here(fn, args, kwargs, timeout)
    worker = threading.Thread(target=target, daemon=True)  # a thread named like any other
    worker.start()
    worker.join(timeout)
    if worker.is_alive():
        raise TimedOut(f"did not return within {timeout:g} s")
    if "error" in box:
        if isinstance(box["error"], NotImplementedError):
            raise NotStarted(str(box["error"]))
        raise Raised(box["error"])
    return box.get("value")


class _OnThisThread(threading.local):
    active = False


_ON_THIS_THREAD = _OnThisThread()


def _can_alarm() -> bool:
    return (hasattr(signal, "setitimer")
            and threading.current_thread() is threading.main_thread()
            and signal.getsignal(signal.SIGALRM) in (signal.SIG_DFL, signal.SIG_IGN, None))


@contextmanager
def on_the_main_thread() -> Iterator[None]:
    """Within the block, learner code runs on the calling (main) thread, bounded by an alarm
    instead of a worker thread: code that behaves only when it is not on the main thread (where
    a notebook runs it) is seen. Off the main thread, or without SIGALRM, nothing changes."""
    _ON_THIS_THREAD.active = True
    try:
        yield
    finally:
        _ON_THIS_THREAD.active = False


class _Alarm(BaseException):
    """Raised in learner code by the alarm; a BaseException so ``except Exception`` in learner
    code does not swallow it."""


def _call_here(fn: Callable, args: tuple, kwargs: dict, timeout: float) -> Any:
    def ring(signum: int, frame: Any) -> None:
        raise _Alarm

    signal.signal(signal.SIGALRM, ring)
    signal.setitimer(signal.ITIMER_REAL, timeout)
    try:
        return fn(*args, **kwargs)
    except _Alarm:
        raise TimedOut(f"did not return within {timeout:g} s") from None
    except NotImplementedError as error:
        raise NotStarted(str(error)) from None
    except BaseException as error:  # noqa: BLE001 - learner code may raise anything
        raise Raised(error) from None
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, signal.SIG_DFL)


def short(value: Any, limit: int = 160) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


class Trial:
    """The cases of one check run: records how each ended, names the current one, calls
    learner code, and reaches the lab (``t.lab``) for checks that need the account."""

    def __init__(self, timeout: float = DEFAULT_TIMEOUT_S) -> None:
        self.timeout = timeout
        self.cases = 0
        self.current = ""
        self.results: list[CaseResult] = []

    @cached_property
    def lab(self) -> Lab:
        """The connected lab, connected on first use: a check that needs no AWS never waits."""
        from environment.lab import current

        return current()

    @contextmanager
    def case(self, name: str) -> Iterator[None]:
        self.cases += 1
        self.current = name
        try:
            yield
        except BaseException:
            self.results.append(CaseResult(name, "failed"))
            raise
        self.results.append(CaseResult(name, "passed"))

    def skip(self, name: str, why: str) -> None:
        self.results.append(CaseResult(name, "skipped", why))

    def call(self, fn: Callable, *args: Any, hint: str = "", code_hint: str = "",
             **kwargs: Any) -> Any:
        """Call learner code where it must succeed; any exception fails the case."""
        try:
            return call_with_timeout(fn, *args, timeout=self.timeout, **kwargs)
        except Raised as raised:
            raise CaseFailed(self.current, "a result", f"it raised {raised}{raised.where}",
                             hint, code_hint=code_hint) from None
        except TimedOut as slow:
            raise CaseFailed(self.current, "a result", f"your function {slow}",
                             hint or "look for a loop that never ends or a call that waits "
                             "forever (a missing timeout?)", code_hint=code_hint) from None

    def rejects(self, fn: Callable, *args: Any, accept: tuple[type[BaseException], ...],
                hint: str, sent: str = "", code_hint: str = "") -> BaseException:
        """Call learner code where it must refuse by raising one of ``accept``."""
        names = " or ".join(t.__name__ for t in accept)
        expected = ("an exception" if accept == (Exception,)
                    else f"an exception of type {names}")
        try:
            value = call_with_timeout(fn, *args, timeout=self.timeout)
        except Raised as raised:
            if isinstance(raised.error, accept):
                return raised.error
            raise CaseFailed(self.current, expected, f"it raised {raised}{raised.where}", hint,
                             sent, code_hint) from None
        except TimedOut as slow:
            raise CaseFailed(self.current, expected, f"your function {slow}", hint, sent,
                             code_hint) from None
        raise CaseFailed(self.current, expected, f"it returned {short(value)}", hint, sent,
                         code_hint)

    def expect(self, ok: bool, expected: str, got: Any, hint: str = "", sent: str = "",
               code_hint: str = "") -> None:
        if not ok:
            raise CaseFailed(self.current, expected, got if isinstance(got, str) else short(got),
                             hint, sent, code_hint)


def run(exercise_id: str, *functions: Callable, timeout: float = DEFAULT_TIMEOUT_S) -> Outcome:
    """Check one exercise and return its outcome (``check`` prints and records it)."""
    found = REGISTRY.get(exercise_id)
    if found is None:
        known = ", ".join(sorted(REGISTRY))
        return Outcome(exercise_id, "unknown exercise", False, 0,
                       f"There is no exercise {exercise_id!r}. Known exercises: {known}.")
    problem = _wrong_arguments(found, functions)
    if problem:
        return Outcome(found.id, found.title, False, 0, problem)
    trial = Trial(timeout)
    try:
        found.run(*functions, trial)
    except NotStarted as stub:
        fields = [("todo", "replace the `raise NotImplementedError` line with your code"),
                  ("idea", found.hint)]
        return Outcome(found.id, found.title, False, trial.cases,
                       f"Not started yet: {stub}.\n" + _text(fields),
                       trial.current, trial.results, fields, "not started")
    except CaseFailed as failed:
        key = (found.id, failed.case)
        FAILURES[key] = FAILURES.get(key, 0) + 1
        LAST_FAILURE[found.id] = failed
        fields = _fields(failed, found, repeated=FAILURES[key] > 1)
        return Outcome(found.id, found.title, False, trial.cases,
                       f"Case failed: {failed.case}\n" + _text(fields),
                       failed.case, trial.results, fields)
    except CannotCheck as missing:
        return Outcome(found.id, found.title, False, trial.cases, f"Not checked: {missing}",
                       trial.current, trial.results, state="not checked")
    except Exception as error:  # our own bug or an environment problem: say so plainly
        return Outcome(found.id, found.title, False, trial.cases,
                       f"The check itself could not run ({type(error).__name__}: {error}). "
                       "Is the environment up (`make env-status`)? If it is, this is a bug "
                       "in the kit: please report it with this message.",
                       trial.current, trial.results, state="not checked")
    for key in [key for key in FAILURES if key[0] == found.id]:
        del FAILURES[key]
    LAST_FAILURE.pop(found.id, None)
    return Outcome(found.id, found.title, True, trial.cases,
                   f"all {trial.cases} cases passed", None, trial.results)


def _wrong_arguments(found: Exercise, functions: tuple[Callable, ...]) -> str:
    wanted = ", ".join(found.needs)
    if len(functions) != len(found.needs):
        return (f"check({found.id!r}, ...) takes {len(found.needs)} function(s): {wanted}; "
                f"it was given {len(functions)}.")
    for name, fn in zip(found.needs, functions, strict=True):
        if not callable(fn):
            return f"check({found.id!r}, ...) expected the function {name}, got {short(fn)}."
    return ""


def _fields(failed: CaseFailed, found: Exercise, repeated: bool) -> list[tuple[str, str]]:
    fields = [("sent", failed.sent)] if failed.sent else []
    fields += [("expected", failed.expected), ("got", failed.got),
               ("hint", failed.hint or found.hint)]
    step = failed.code_hint or found.code_hint
    if step and repeated:
        fields.append(("next", step))
    elif step:
        fields.append(("more", "if this case fails again, the report shows a concrete next "
                               f"step (or call hint({found.id!r}) now)"))
    return fields


def _text(fields: list[tuple[str, str]]) -> str:
    return "\n".join(f"   {label + ':':<9} {value}" for label, value in fields)


def hints(exercise_id: str) -> str:
    """Every hint there is for one exercise: the idea, the code-level step, the last failure's."""
    found = REGISTRY.get(exercise_id)
    if found is None:
        return f"There is no exercise {exercise_id!r}. Known exercises: {', '.join(REGISTRY)}."
    lines = [f"{found.id} {found.title}", f"   idea:     {found.hint}"]
    if found.code_hint:
        lines.append(f"   code:     {found.code_hint}")
    failed = LAST_FAILURE.get(found.id)
    if failed is not None:
        lines.append(f"   your last failing case: {failed.case}")
        if failed.hint:
            lines.append(f"   hint:     {failed.hint}")
        if failed.code_hint:
            lines.append(f"   next:     {failed.code_hint}")
    return "\n".join(lines)
