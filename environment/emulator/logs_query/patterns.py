"""JSON filter patterns for ``FilterLogEvents``: ``{ $.tenant_id = "a" && $.level = "ERROR" }``.

moto 5.2.5 treats any pattern that starts with ``{`` as matching every event, which would
hand a learner every tenant's errors while looking right. The kit reads the JSON form itself:

- selectors ``$.a``, ``$.a.b``, ``$.a[0].b``;
- comparisons ``=`` and ``!=`` with a "string" (``*`` is a wildcard), a bare word or a number,
  and ``<``, ``<=``, ``>``, ``>=`` with a number;
- ``$.a IS TRUE``, ``$.a IS FALSE``, ``$.a NOT EXISTS``;
- ``&&``, ``||`` and parentheses (``&&`` binds tighter).

A comparison with a member the event does not have is false, ``!=`` included, as in
CloudWatch Logs; an event that is not a JSON object matches no JSON pattern. A pattern
outside this subset raises ``ValueError`` (``InvalidParameterException`` for the caller).
Patterns that do not start with ``{`` are left to moto's term matching.
"""

from __future__ import annotations

import fnmatch
import json
import re
from collections.abc import Callable
from functools import lru_cache
from typing import Any

from .engine import _flatten

Predicate = Callable[[dict[str, Any]], bool]
TOKEN = re.compile(r"""
    (?P<space>\s+)
  | (?P<selector>\$(?:\.[A-Za-z0-9_\-@]+|\[\d+\])+)
  | (?P<string>"(?:[^"\\]|\\.)*")
  | (?P<number>-?\d+(?:\.\d+)?(?![\w.]))
  | (?P<op>&&|\|\||!=|<=|>=|=|<|>|\(|\))
  | (?P<word>[A-Za-z_][\w\-.*]*)
""", re.VERBOSE)


@lru_cache(maxsize=256)
def message_filter(pattern: str) -> Callable[[str], bool] | None:
    """A matcher for a JSON pattern; None when the pattern is not JSON-shaped."""
    text = pattern.strip()
    if not text.startswith("{"):
        return None
    if not text.endswith("}"):
        raise ValueError("a JSON filter pattern must end with '}'")
    predicate = _Parser(text[1:-1]).parse()

    def matches(message: str) -> bool:
        try:
            document = json.loads(message)
        except ValueError:
            return False
        if not isinstance(document, dict):
            return False
        fields: dict[str, Any] = {}
        _flatten(document, "", fields)
        return predicate(fields)

    return matches


class _Parser:
    def __init__(self, text: str) -> None:
        self.items: list[tuple[str, str]] = []
        position = 0
        while position < len(text):
            match = TOKEN.match(text, position)
            if match is None:
                raise ValueError(f"unexpected {text[position:position + 10]!r}")
            position = match.end()
            if match.lastgroup != "space":
                self.items.append((match.lastgroup or "", match.group()))
        if not self.items:
            raise ValueError("the pattern between the braces is empty")
        self.at = 0

    def peek(self) -> tuple[str, str] | None:
        return self.items[self.at] if self.at < len(self.items) else None

    def take(self) -> tuple[str, str]:
        token = self.peek()
        if token is None:
            raise ValueError("the pattern ends too early")
        self.at += 1
        return token

    def parse(self) -> Predicate:
        predicate = self.disjunction()
        if self.peek() is not None:
            raise ValueError(f"unexpected {self.peek()[1]!r}")  # type: ignore[index]
        return predicate

    def disjunction(self) -> Predicate:
        parts = [self.conjunction()]
        while self.peek() == ("op", "||"):
            self.take()
            parts.append(self.conjunction())
        return parts[0] if len(parts) == 1 else (lambda f: any(p(f) for p in parts))

    def conjunction(self) -> Predicate:
        parts = [self.term()]
        while self.peek() == ("op", "&&"):
            self.take()
            parts.append(self.term())
        return parts[0] if len(parts) == 1 else (lambda f: all(p(f) for p in parts))

    def term(self) -> Predicate:
        if self.peek() == ("op", "("):
            self.take()
            inner = self.disjunction()
            if self.take() != ("op", ")"):
                raise ValueError("a '(' without its ')'")
            return inner
        kind, selector = self.take()
        if kind != "selector":
            raise ValueError(f"expected a selector such as $.level, found {selector!r}")
        name = re.sub(r"\[(\d+)\]", r".\1", selector[2:])
        kind, op = self.take()
        if kind == "word" and op.upper() in ("IS", "NOT"):
            return self.keyword(name, op.upper())
        if kind != "op" or op not in ("=", "!=", "<", "<=", ">", ">="):
            raise ValueError(f"expected a comparison after {selector}, found {op!r}")
        kind, raw = self.take()
        if kind == "number":
            number = float(raw)
            return lambda f: _numeric(f.get(name), op, number)
        if op not in ("=", "!="):
            raise ValueError(f"{op} compares numbers, not {raw!r}")
        if kind not in ("string", "word"):
            raise ValueError(f"expected a value after {selector} {op}, found {raw!r}")
        text = json.loads(raw) if kind == "string" else raw
        return lambda f: name in f and _equal(f[name], text) == (op == "=")

    def keyword(self, name: str, first: str) -> Predicate:
        kind, second = self.take()
        second = second.upper()
        if first == "NOT" and second == "EXISTS":
            return lambda f: not any(k == name or k.startswith(f"{name}.") for k in f)
        if first == "IS" and second in ("TRUE", "FALSE"):
            wanted = second.lower()
            return lambda f: f.get(name) == wanted
        raise ValueError(f"{first} {second} is outside the kit's filter pattern subset "
                         "(IS TRUE, IS FALSE, NOT EXISTS)")


def _equal(value: Any, text: str) -> bool:
    plain = str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)
    if "*" in text:
        return fnmatch.fnmatchcase(plain, text.replace("[", "[[]"))
    return plain == text


def _numeric(value: Any, op: str, number: float) -> bool:
    if isinstance(value, bool) or not isinstance(value, int | float):
        try:
            value = float(value) if isinstance(value, str) else None
        except ValueError:
            value = None
    if value is None:
        return False
    return {"=": value == number, "!=": value != number, "<": value < number,
            "<=": value <= number, ">": value > number, ">=": value >= number}[op]
