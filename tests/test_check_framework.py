"""The machinery every check shares: timeouts, learner errors, reporting, recording."""

from __future__ import annotations

import time

import pytest

from checks import check, run
from checks.framework import REGISTRY, Raised, TimedOut, Trial, call_with_timeout, exercise
from checks.results import render


@pytest.fixture
def toy_exercise():
    @exercise("0.1", "double a number", ("double",), hint="return n * 2")
    def check_double(double, t: Trial):
        for n in (1, 5):
            with t.case(f"double({n})"):
                t.expect(t.call(double, n) == 2 * n, str(2 * n), t.call(double, n))
        with t.case("double('x') must be refused"):
            t.rejects(double, "x", accept=(TypeError,), hint="refuse strings")

    yield "0.1"
    REGISTRY.pop("0.1")


def test_a_correct_function_passes_with_a_case_count(toy_exercise):
    def double(n):
        if not isinstance(n, int):
            raise TypeError("numbers only")
        return n * 2

    outcome = run(toy_exercise, double)
    assert outcome.passed and outcome.cases == 3
    assert render(outcome) == "\N{WHITE HEAVY CHECK MARK} 0.1 double a number: all 3 cases passed"


def test_the_first_failing_case_is_reported_with_expected_got_and_hint(toy_exercise):
    outcome = run(toy_exercise, lambda n: n + 2 if n != 1 else 2)
    assert not outcome.passed and outcome.failed_case == "double(5)"
    assert "expected: 10" in outcome.message and "got:      7" in outcome.message
    assert "hint:     return n * 2" in outcome.message


def test_every_case_keeps_its_result_and_the_report_ends_with_a_tally(toy_exercise):
    outcome = run(toy_exercise, lambda n: n * 2)
    assert [(r.name, r.result) for r in outcome.results] == [
        ("double(1)", "passed"), ("double(5)", "passed"),
        ("double('x') must be refused", "failed")]
    assert render(outcome).endswith("2 of 3 cases passed before this one")
    assert [r["result"] for r in outcome.as_dict()["results"]] == ["passed", "passed", "failed"]


def test_a_skipped_case_is_a_result_with_its_reason():
    trial = Trial()
    with trial.case("runs"):
        pass
    trial.skip("needs the signing key", "not on AWS")
    assert [(r.result, r.detail) for r in trial.results] == [("passed", ""),
                                                             ("skipped", "not on AWS")]


def test_returning_where_a_refusal_is_expected_fails(toy_exercise):
    outcome = run(toy_exercise, lambda n: n * 2)
    assert outcome.failed_case == "double('x') must be refused"
    assert "an exception of type TypeError" in outcome.message and "'xx'" in outcome.message


def test_a_learner_exception_is_reported_with_its_line_not_raised(toy_exercise):
    def double(n):
        return n * undefined_name  # noqa: F821

    outcome = run(toy_exercise, double)
    assert not outcome.passed
    assert "it raised NameError" in outcome.message and "n * undefined_name" in outcome.message


def test_a_stub_is_reported_as_not_started(toy_exercise):
    def double(n):
        raise NotImplementedError("exercise 0.1 is not done yet")

    outcome = run(toy_exercise, double)
    assert not outcome.passed and outcome.message.startswith("Not started yet")


def test_a_hanging_function_times_out_instead_of_hanging_the_notebook(toy_exercise):
    started = time.monotonic()
    outcome = run(toy_exercise, lambda n: time.sleep(30), timeout=0.5)
    assert time.monotonic() - started < 5
    assert not outcome.passed and "did not return within 0.5 s" in outcome.message


def test_wrong_arguments_and_unknown_exercises_explain_themselves(toy_exercise):
    assert "takes 1 function(s): double; it was given 2" in run(toy_exercise, abs, abs).message
    assert "expected the function double, got 42" in run(toy_exercise, 42).message
    assert "There is no exercise '9.9'" in run("9.9", abs).message


def test_call_with_timeout_wraps_errors():
    with pytest.raises(Raised) as raised:
        call_with_timeout(lambda: 1 / 0)
    assert isinstance(raised.value.error, ZeroDivisionError)
    with pytest.raises(TimedOut):
        call_with_timeout(time.sleep, 5, timeout=0.1)


def test_check_prints_its_report_outside_notebooks(toy_exercise, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("LAB_STATE_DIR", str(tmp_path))
    check(toy_exercise, lambda n: n * 2)
    assert capsys.readouterr().out.startswith("\N{CROSS MARK} 0.1 double a number:")


def test_a_lab_error_shows_as_advice_in_ipython(capsys):
    from IPython.core.interactiveshell import InteractiveShell

    shell = InteractiveShell.instance()
    shell.run_cell("from environment.lab import install_notebook_errors\n"
                   "install_notebook_errors()")
    shell.run_cell("from environment.errors import LabError\n"
                   "raise LabError('Port 4566 is taken.', 'use LAB_PORT=4567')")
    captured = capsys.readouterr()
    assert "Port 4566 is taken." in captured.err and "What to do: use LAB_PORT=4567" in captured.err
    assert "Traceback" not in captured.out + captured.err


def test_hints_are_progressive_the_code_step_comes_on_the_second_failure_of_a_case():
    @exercise("0.2", "triple a number", ("triple",), hint="multiply by three",
              code_hint="return n * 3")
    def check_triple(triple, t: Trial):
        with t.case("triple(2)"):
            t.expect(t.call(triple, 2) == 6, "6", t.call(triple, 2),
                     hint="three times the input", code_hint="return n * 3, not n + 3")

    try:
        first = run("0.2", lambda n: n + 3)
        assert "hint:     three times the input" in first.message
        assert "n + 3, not" not in first.message and "hint('0.2')" in first.message
        second = run("0.2", lambda n: n + 3)
        assert "next:     return n * 3, not n + 3" in second.message
        assert run("0.2", lambda n: n * 3).passed
        third = run("0.2", lambda n: n + 3)  # a pass forgets the earlier failures
        assert "next:" not in third.message
        from checks.framework import hints

        assert "code:     return n * 3" in hints("0.2")
        assert "next:     return n * 3, not n + 3" in hints("0.2")
    finally:
        REGISTRY.pop("0.2")


def test_an_unstarted_exercise_shows_the_idea_not_the_code():
    @exercise("0.3", "negate", ("negate",), hint="flip the sign", code_hint="return -n")
    def check_negate(negate, t: Trial):
        with t.case("negate(1)"):
            t.expect(t.call(negate, 1) == -1, "-1", "?")

    def negate(n):
        raise NotImplementedError("exercise 0.3")

    try:
        outcome = run("0.3", negate)
        assert "idea:     flip the sign" in outcome.message and "return -n" not in outcome.message
    finally:
        REGISTRY.pop("0.3")


def test_a_report_in_a_notebook_is_html_with_a_badge_and_no_emoji(toy_exercise):
    from checks.results import Report

    failed = Report(run(toy_exercise, lambda n: "<b>" if n == 5 else n * 2))
    page = failed._repr_html_()
    assert "FAILED" in page and "\N{CROSS MARK}" not in page
    assert "&lt;b&gt;" in page and "<b>'" not in page  # learner values are escaped
    assert ">expected<" in page and ">hint<" in page and "return n * 2" in page
    assert repr(failed).startswith("\N{CROSS MARK} 0.1 double a number:")  # text stays as it was
    passed = Report(run(toy_exercise, lambda n: n * 2 if isinstance(n, int) else n + 1))
    assert "PASSED" in passed._repr_html_() and "all 3 cases passed" in passed._repr_html_()


def test_an_unstarted_exercise_has_its_own_badge(toy_exercise):
    from checks.results import Report

    def double(n):
        raise NotImplementedError("exercise 0.1 is not done yet")

    outcome = run(toy_exercise, double)
    assert outcome.state == "not started" and outcome.message.startswith("Not started yet")
    assert "NOT STARTED" in Report(outcome)._repr_html_()


def test_progress_remembers_each_exercise_latest_state_across_processes(tmp_path, monkeypatch):
    from checks.tracking import progress, remember

    monkeypatch.setenv("LAB_STATE_DIR", str(tmp_path))
    before = progress()
    assert before.passed == 0 and {state for *_, state in before.rows} == {"not checked yet"}
    assert {e for e, *_ in before.rows} == set(REGISTRY)
    first = sorted(REGISTRY)[0]
    remember(run(first, lambda *a: (_ for _ in ()).throw(NotImplementedError("todo"))))
    assert dict((e, s) for e, _, s in progress().rows)[first] == "not started"
    remember(run("9.9"))  # an unknown exercise is not progress
    assert "9.9" not in (tmp_path / "progress.json").read_text()
    (tmp_path / "progress.json").write_text("{ broken")  # a damaged file starts afresh
    assert progress().passed == 0
    assert "exercises pass" in repr(progress()) and "<table" in progress()._repr_html_()


def test_a_report_is_never_typeset_as_latex_in_jupyterlab():
    from checks.results import Report

    outcome = run("9.9")  # any report will do; policy variables look like $...$ to MathJax
    assert "mathjax_ignore" in Report(outcome)._repr_html_()


def test_progress_of_one_lab_lists_only_its_exercises(tmp_path, monkeypatch):
    from checks.tracking import progress

    monkeypatch.setenv("LAB_STATE_DIR", str(tmp_path))
    assert {e.split(".")[0] for e, *_ in progress(2).rows} == {"2"}
