"""The one exception type the kit raises at a person.

Everything a learner, an instructor or CI can get wrong (a port in use, an
unreachable endpoint, an unknown tenant) ends up as a ``LabError`` whose text
says what happened and what to do next. Notebooks show only that text (see
``environment.lab``), the command line prints it and exits 2, so nobody has to
read a traceback from our code to learn what went wrong.
"""

from __future__ import annotations


class LabError(Exception):
    """A problem the user can fix, described in two parts: what went wrong, and what to do."""

    def __init__(self, problem: str, fix: str | None = None) -> None:
        self.problem = problem
        self.fix = fix
        super().__init__(self.__str__())

    def __str__(self) -> str:
        if self.fix:
            return f"{self.problem}\n  What to do: {self.fix}"
        return self.problem
