"""How a check's outcome looks: plain text for terminals and nbval, HTML in JupyterLab."""

from __future__ import annotations

import html

from .framework import Outcome

BADGES = {  # state: (label, background); white text on these reads on light and dark themes
    "passed": ("PASSED", "#1a7f37"),
    "failed": ("FAILED", "#cf222e"),
    "not started": ("NOT STARTED", "#9a6700"),
    "not checked": ("NOT CHECKED", "#6e7781"),
}


class Report:
    """A check's outcome as a notebook shows it: a badge and a table in JupyterLab, text elsewhere.

    The badge is a coloured label, not an emoji, so it reads where no emoji font is installed;
    the table wraps long tokens and hints at word boundaries where it can. The ``mathjax_ignore``
    class keeps JupyterLab from typesetting ``${aws:PrincipalTag/TenantID}`` as LaTeX. Terminals,
    the grader and nbval's text comparison see the same plain text as before.
    """

    def __init__(self, outcome: Outcome) -> None:
        self.outcome = outcome

    def __repr__(self) -> str:
        return render(self.outcome)

    def _repr_pretty_(self, printer, cycle: bool) -> None:  # noqa: ANN001 - IPython's printer
        printer.text(render(self.outcome))

    def _repr_html_(self) -> str:
        outcome = self.outcome
        label, colour = BADGES.get(outcome.state, BADGES["failed"])
        badge = (f'<span style="background:{colour};color:#fff;border-radius:3px;'
                 f'padding:1px 6px;font-weight:600;font-size:85%">{label}</span>')
        head = (f"{badge} <b>{html.escape(outcome.exercise)}</b> "
                f"{html.escape(outcome.title)}")
        if outcome.passed:
            body = f"<span>{html.escape(outcome.message)}</span>"
        elif outcome.fields:
            first = (f"Case failed: {outcome.failed_case}" if outcome.state == "failed"
                     else outcome.message.splitlines()[0])
            rows = "".join(
                f'<tr><th style="text-align:left;vertical-align:top;padding:2px 8px 2px 0;'
                f'font-weight:600">{html.escape(name)}</th>'
                f'<td style="text-align:left;padding:2px 0;white-space:pre-wrap;'
                f'overflow-wrap:anywhere;word-break:normal">{html.escape(value)}</td></tr>'
                for name, value in outcome.fields)
            body = (f"<div>{html.escape(first)}</div>"
                    f'<table style="border-collapse:collapse;margin:4px 0 0 0;'
                    f'table-layout:auto;width:100%">{rows}</table>')
        else:
            body = (f'<div style="white-space:pre-wrap;overflow-wrap:anywhere">'
                    f"{html.escape(outcome.message)}</div>")
        if outcome.skipped:
            body += (f'<div style="opacity:0.75">skipped: '
                     f'{html.escape("; ".join(outcome.skipped))}</div>')
        if outcome.state == "failed" and outcome.cases > 1:
            body += f'<div style="opacity:0.75">{html.escape(tally(outcome))}</div>'
        return (f'<div class="lab-check mathjax_ignore tex2jax_ignore" style="border-left:4px '
                f'solid {colour};padding:4px 10px;margin:2px 0">{head}<div style="margin-top:4px">'
                f"{body}</div></div>")


def render(outcome: Outcome) -> str:
    """The text a learner sees under a check cell."""
    mark = "\N{WHITE HEAVY CHECK MARK}" if outcome.passed else "\N{CROSS MARK}"
    head = f"{mark} {outcome.exercise} {outcome.title}: "
    text = head + (outcome.message if outcome.passed else "\n" + outcome.message)
    if outcome.skipped:
        text += "\n   skipped:  " + "; ".join(outcome.skipped)
    if outcome.state == "failed" and outcome.cases > 1:
        text += "\n   " + tally(outcome)
    return text


def tally(outcome: Outcome) -> str:
    """How far the check got before the failing case (the outcome keeps every case's result)."""
    return f"{outcome.passed_cases} of {outcome.cases} cases passed before this one"


def show(outcome: Outcome) -> None:
    """Rich output in a notebook (a badge and a table), the plain text anywhere else."""
    try:
        from IPython import get_ipython
        from IPython.display import display
    except ImportError:
        get_ipython = None
    if get_ipython is None or get_ipython() is None:
        print(render(outcome))
    else:
        display(Report(outcome))
