"""Run a parsed query over log events, as Logs Insights answers it (within the subset).

Fields are what Insights discovers: ``@timestamp``, ``@message``, ``@logStream``, ``@log``,
``@ingestionTime``, and every member of a JSON message, nested members joined with dots
(``{"a": {"b": 1}}`` gives ``a.b``, lists give ``a.0``). A comparison with a field the event
does not have is false (so ``tenant_id != "a"`` does not match events without ``tenant_id``).
Numbers compare as numbers when the literal is a number; strings compare exactly, ``like``
matches a substring (or a /regex/). Without ``sort``, events come newest first and statistics
rows in the order of their group values. Without ``fields`` or ``display``, an event row holds
``@timestamp`` and ``@message``. ``limit`` defaults to 1000 rows, as in Logs Insights.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cached_property
from typing import Any

from .syntax import Aggregate, Compare, Logic, Query

DEFAULT_LIMIT = 1000
DEFAULT_FIELDS = ("@timestamp", "@message")


@dataclass(frozen=True)
class Record:
    """One log event as the engine sees it: plain data, read from moto by the adapter."""

    timestamp: int  # epoch milliseconds
    message: str
    stream: str
    group: str
    ptr: str
    ingestion_time: int = 0


class Row:
    """An event with its discovered fields, computed once and only when a field is asked for."""

    def __init__(self, record: Record) -> None:
        self.record = record

    @cached_property
    def fields(self) -> dict[str, Any]:
        r = self.record
        found: dict[str, Any] = {"@timestamp": r.timestamp, "@message": r.message,
                                 "@logStream": r.stream, "@log": r.group,
                                 "@ingestionTime": r.ingestion_time}
        try:
            document = json.loads(r.message)
        except ValueError:
            return found
        if isinstance(document, dict):
            _flatten(document, "", found)
        return found

    def get(self, name: str) -> Any:
        return self.fields.get(name)


def _flatten(value: dict[str, Any] | list[Any], prefix: str, into: dict[str, Any]) -> None:
    items = value.items() if isinstance(value, dict) else enumerate(value)
    for key, inner in items:
        name = f"{prefix}{key}"
        if isinstance(inner, dict | list):
            _flatten(inner, f"{name}.", into)
        else:
            _put(into, name, inner)


def _put(into: dict[str, Any], name: str, value: Any) -> None:
    if value is None:
        return
    into.setdefault(name, "true" if value is True else "false" if value is False else value)


def run(query: Query, records: Iterable[Record]) -> list[dict[str, str]]:
    """The result rows of ``query``, each a dict of field -> string value."""
    before = query.filters if query.stats_at is None else query.filters[:query.stats_at]
    after = [] if query.stats_at is None else query.filters[query.stats_at:]
    rows = [row for row in map(Row, records) if all(matches(f, row.get) for f in before)]
    if query.aggregates is None:
        order = query.sort or [("@timestamp", True)]
        rows = _sorted(rows, order, lambda row, name: row.get(name))
        rows = rows[:query.limit or DEFAULT_LIMIT]
        names = query.display or query.fields or list(DEFAULT_FIELDS)
        return [{**{n: _text(n, row.get(n)) for n in names if row.get(n) is not None},
                 "@ptr": row.record.ptr} for row in rows]
    table = _stats(rows, query.aggregates, query.group_by)
    table = [t for t in table if all(matches(f, t.get) for f in after)]
    if query.sort:
        table = _sorted(table, query.sort, lambda t, name: t.get(name))
    table = table[:query.limit or DEFAULT_LIMIT]
    names = query.display or None
    shown = [{k: _text(k, v) for k, v in t.items() if names is None or k in names} for t in table]
    return [row for row in shown if row]


def _stats(rows: list[Row], aggregates: list[Aggregate], by: list[str]) -> list[dict[str, Any]]:
    groups: dict[tuple[Any, ...], list[Row]] = {}
    for row in rows:
        groups.setdefault(tuple(row.get(name) for name in by), []).append(row)
    table = []
    for key in sorted(groups, key=lambda k: tuple((v is None, str(v)) for v in k)):
        members = groups[key]
        result: dict[str, Any] = {name: value for name, value in zip(by, key, strict=True)
                                  if value is not None}
        for aggregate in aggregates:
            value = _aggregate(aggregate, members)
            if value is not None:
                result[aggregate.label] = value
        table.append(result)
    if not by and not table:  # stats over no events still answers one row of zero counts
        table.append({a.label: 0 for a in aggregates if a.function == "count"})
    return table


def _aggregate(aggregate: Aggregate, rows: list[Row]) -> float | int | None:
    if aggregate.function == "count":
        if aggregate.argument is None:
            return len(rows)
        return sum(1 for row in rows if row.get(aggregate.argument) is not None)
    numbers = [n for n in (_number(row.get(aggregate.argument or "")) for row in rows)
               if n is not None]
    if not numbers:
        return None
    if aggregate.function == "sum":
        return sum(numbers)
    if aggregate.function == "avg":
        return sum(numbers) / len(numbers)
    return min(numbers) if aggregate.function == "min" else max(numbers)


def matches(expression: Any, get: Any) -> bool:
    """Whether an event (or a statistics row) read through ``get`` satisfies ``expression``."""
    if isinstance(expression, Logic):
        if expression.op == "and":
            return all(matches(part, get) for part in expression.parts)
        if expression.op == "or":
            return any(matches(part, get) for part in expression.parts)
        return not matches(expression.parts[0], get)
    compare: Compare = expression
    value = get(compare.name)
    if value is None:
        return False
    outcome = _compare(compare.op, value, compare.value)
    return outcome != compare.negate


def _compare(op: str, value: Any, literal: Any) -> bool:
    if op == "like":
        return literal in _plain(value)
    if op == "regex":
        return re.search(literal, _plain(value)) is not None
    if op == "in":
        return any(_compare("=", value, item) for item in literal)
    if isinstance(literal, float):
        number = _number(value)
        if number is None:
            return op == "!="
        left: Any = number
    else:
        left = _plain(value)
    return {"=": left == literal, "!=": left != literal, "<": left < literal,
            "<=": left <= literal, ">": left > literal, ">=": left >= literal}[op]


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        return float(value)
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _plain(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _sorted(items: list[Any], order: list[tuple[str, bool]], get: Any) -> list[Any]:
    """Stable multi-key sort; numbers as numbers, missing values last."""
    for name, descending in reversed(order):
        present = [i for i in items if get(i, name) is not None]
        missing = [i for i in items if get(i, name) is None]
        numeric = all(_number(get(i, name)) is not None for i in present)
        present.sort(key=(lambda i, n=name: _number(get(i, n))) if numeric else
                     (lambda i, n=name: _plain(get(i, n))), reverse=descending)
        items = present + missing
    return items


def _text(name: str, value: Any) -> str:
    if name in ("@timestamp", "@ingestionTime") and isinstance(value, int | float):
        moment = datetime.fromtimestamp(value / 1000, UTC)
        return moment.strftime("%Y-%m-%d %H:%M:%S.") + f"{int(value) % 1000:03d}"
    if isinstance(value, float):
        return _plain(value) if value.is_integer() else repr(round(value, 10))
    return str(value)
