"""Log queries where moto stops: a Logs Insights subset and JSON filter patterns.

moto 5.2.5 (the pinned version) answers ``StartQuery``/``GetQueryResults`` reading only
``fields``, ``sort`` and ``limit``: ``filter`` and ``stats`` are ignored, so "one tenant's
errors" returns every event. Its ``FilterLogEvents`` treats a JSON pattern as "match all".
The emulator answers both itself, inside moto's logs backend (after the IAM gate decides):

- ``syntax``: the Logs Insights subset (fields, display, filter with = != < <= > >= like in
  and/or/not, stats count/sum/avg/min/max by fields, sort, limit), anything else refused;
- ``engine``: runs a parsed query over the events (JSON fields discovered as Insights does);
- ``patterns``: JSON filter patterns for ``FilterLogEvents``.
"""

from __future__ import annotations

from .engine import Record, run
from .patterns import message_filter
from .syntax import QueryError, parse

__all__ = ["QueryError", "Record", "execute", "install", "message_filter", "parse", "run"]


def execute(query: str, records: list[tuple[int, str, str, str, str, int]]) -> list[dict[str, str]]:
    """Answer ``query`` over plain event tuples (what the moto adapter hands over)."""
    return run(parse(query), [Record(*r) for r in records])


def install() -> None:
    """Seat the subset in moto's logs backend (idempotent)."""
    from ..moto_adapter import install_log_queries

    install_log_queries(execute, message_filter)
