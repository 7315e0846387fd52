"""Turn what learner code returned into something a check can compare, or a report.

A learner function that returns the wrong shape (None, the whole Query
response, low-level DynamoDB JSON such as ``{"S": "o-1"}``) must get a report
that says what it returned and what to return instead, never a crash inside
the check. Compared values come back as a Counter: duplicates are a bug too.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from .framework import Trial, short

DYNAMODB_JSON_TYPES = frozenset({"S", "N", "B", "BOOL", "NULL", "M", "L", "SS", "NS", "BS"})


def looks_like_dynamodb_json(value: Any) -> bool:
    return isinstance(value, dict) and len(value) == 1 and next(iter(value)) in \
        DYNAMODB_JSON_TYPES


def field_values(t: Trial, result: Any, field: str, what: str) -> Counter[str]:
    """The multiset of ``item[field]`` over a returned list of items, or a teaching report."""
    if result is None:
        t.expect(False, f"a list of {what} (dicts)", "None",
                 hint="your function returned nothing: return the list of items you read.")
    if isinstance(result, dict):
        t.expect(False, f"a list of {what} (dicts)", f"a dict with keys {sorted(result)[:5]}",
                 hint="return the items themselves (a list), not the response that holds them.")
    if isinstance(result, str | bytes) or not hasattr(result, "__iter__"):
        t.expect(False, f"a list of {what} (dicts)", short(result))
    try:
        items = list(result)
    except Exception as error:  # noqa: BLE001 - a learner generator may raise anything
        t.expect(False, f"a list of {what} (dicts)",
                 f"something that raised {type(error).__name__} when read: {error}")
    found: Counter[str] = Counter()
    for item in items:
        if not isinstance(item, dict):
            t.expect(False, f"a list of {what} (dicts)", f"a list holding {short(item, 80)}",
                     hint="each element is one item: a dict of its attributes.")
        value = item.get(field)
        if looks_like_dynamodb_json(value):
            t.expect(False, f"plain values, e.g. {{'{field}': 'o-1'}}",
                     f"DynamoDB JSON, e.g. {short({field: value}, 80)}",
                     hint="the low-level client returns typed values ({'S': ...}); the Table "
                          "resource returns plain ones. Use the table you were given.")
        if not isinstance(value, str):
            t.expect(False, f"every item with a string {field!r}", short(item, 120),
                     hint=f"return the stored items as they are, with their {field!r}.")
        found[value] += 1
    return found


def describe_difference(want: Counter[str], got: Counter[str], whose: str) -> str:
    """Missing, foreign and duplicated values, in a few words."""
    missing = sum((want - got).values())
    extra = got - want
    duplicated = sum(n - 1 for value, n in got.items() if value in want and n > 1)
    foreign = sum(n for value, n in extra.items() if value not in want)
    parts = [f"{sum(got.values())} items"]
    if missing:
        parts.append(f"{missing} of {whose} missing")
    if foreign:
        parts.append(f"{foreign} not {whose}")
    if duplicated:
        parts.append(f"{duplicated} duplicated")
    return ", ".join(parts)
