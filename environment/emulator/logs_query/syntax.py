"""The kit's Logs Insights subset: its tokens, its grammar, and the parsed query.

Grammar (case-insensitive keywords, commands joined by ``|``)::

    query      := command ('|' command)*
    command    := 'fields' names | 'display' names | 'filter' expr
                | 'stats' aggregate (',' aggregate)* ['by' names]
                | 'sort' name ['asc'|'desc'] (',' name ['asc'|'desc'])* | 'limit' integer
    expr       := conj ('or' conj)*          conj := neg ('and' neg)*
    neg        := 'not' neg | '(' expr ')' | name op value | name ['not'] 'like' (string|/regex/)
                | name ['not'] 'in' '[' value (',' value)* ']'
    op         := '=' | '==' | '!=' | '<' | '<=' | '>' | '>=' | '=~' (regex)
    aggregate  := ('count' | 'sum' | 'avg' | 'min' | 'max') '(' [name | '*'] ')' ['as' name]
    name       := @timestamp | @message | @logStream | @log | a JSON field (dots for nesting,
                  backticks for any other character)

Anything else (``parse``, ``dedup``, functions such as ``bin()``, arithmetic) is refused with
``QueryError``, which the emulator answers as ``MalformedQueryException``: a learner learns
the query is outside the subset, never gets a silently wrong answer.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

COMMANDS = ("fields", "display", "filter", "stats", "sort", "limit")
AGGREGATES = ("count", "sum", "avg", "min", "max")
REFUSED = ("parse", "dedup", "unmask", "pattern", "diff", "anomaly", "filterIndex", "source",
           "lookup", "unnest", "expand")
TOKEN = re.compile(r"""
    (?P<space>\s+)
  | (?P<string>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')
  | (?P<regex>/(?:[^/\\]|\\.)+/)
  | (?P<number>-?\d+(?:\.\d+)?(?![\w.]))
  | (?P<name>`[^`]+`|@?[A-Za-z_][\w.\-]*|\d+[A-Za-z]\w*)
  | (?P<op>==|!=|<=|>=|=~|[=<>|,()\[\]*])
""", re.VERBOSE)


class QueryError(ValueError):
    """The query is outside the subset or malformed; the message names the problem."""


@dataclass(frozen=True)
class Token:
    kind: str
    text: str
    value: Any = None


@dataclass(frozen=True)
class Compare:
    name: str
    op: str  # = != < <= > >= like in regex
    value: Any  # str | float | re.Pattern | tuple
    negate: bool = False


@dataclass(frozen=True)
class Logic:
    op: str  # and | or | not
    parts: tuple[Any, ...]


@dataclass(frozen=True)
class Aggregate:
    function: str
    argument: str | None  # None: count() / count(*)
    label: str


@dataclass
class Query:
    fields: list[str] | None = None
    display: list[str] | None = None
    filters: list[Any] = field(default_factory=list)
    aggregates: list[Aggregate] | None = None
    group_by: list[str] = field(default_factory=list)
    stats_at: int | None = None  # filters after stats apply to its rows
    sort: list[tuple[str, bool]] = field(default_factory=list)  # (name, descending)
    limit: int | None = None


def tokens(text: str) -> list[Token]:
    found, position = [], 0
    while position < len(text):
        match = TOKEN.match(text, position)
        if match is None:
            raise QueryError(f"unexpected character {text[position]!r} at position {position}")
        position = match.end()
        kind, raw = match.lastgroup or "", match.group()
        if kind == "space":
            continue
        if kind == "string":
            found.append(Token("value", raw, re.sub(r"\\(.)", r"\1", raw[1:-1])))
        elif kind == "number":
            found.append(Token("value", raw, float(raw)))
        elif kind == "regex":
            try:
                found.append(Token("regex", raw, re.compile(raw[1:-1])))
            except re.error as error:
                raise QueryError(f"the regular expression {raw} is invalid: {error}") from None
        elif kind == "name":
            found.append(Token("name", raw, raw[1:-1] if raw.startswith("`") else raw))
        else:
            found.append(Token("op", raw))
    return found


class Parser:
    def __init__(self, text: str) -> None:
        if not text or not text.strip():
            raise QueryError("the query string is empty")
        self.items = tokens(text)
        self.at = 0

    # --- helpers ----------------------------------------------------------------------------

    def peek(self, offset: int = 0) -> Token | None:
        index = self.at + offset
        return self.items[index] if index < len(self.items) else None

    def word(self, *words: str, offset: int = 0) -> bool:
        token = self.peek(offset)
        return token is not None and token.kind == "name" and token.text.lower() in words

    def op(self, *ops: str) -> bool:
        token = self.peek()
        return token is not None and token.kind == "op" and token.text in ops

    def take(self) -> Token:
        token = self.peek()
        if token is None:
            raise QueryError("the query ends too early")
        self.at += 1
        return token

    def expect(self, text: str) -> None:
        token = self.take()
        if token.text != text:
            raise QueryError(f"expected {text!r} but found {token.text!r}")

    def name(self) -> str:
        token = self.take()
        if token.kind != "name":
            raise QueryError(f"expected a field name but found {token.text!r}")
        if self.op("("):
            raise QueryError(f"functions such as {token.text}() are outside the lab's Logs "
                             "Insights subset")
        return token.value

    def names(self) -> list[str]:
        found = [self.name()]
        while self.op(","):
            self.take()
            found.append(self.name())
        return found

    # --- the grammar ------------------------------------------------------------------------

    def query(self) -> Query:
        query = Query()
        while True:
            self.command(query)
            if self.peek() is None:
                return query
            if not self.op("|"):
                raise QueryError(f"expected '|' before {self.peek().text!r}")  # type: ignore
            self.take()

    def command(self, query: Query) -> None:
        token = self.take()
        word = token.text.lower() if token.kind == "name" else ""
        if word not in COMMANDS:
            known = ", ".join(COMMANDS)
            what = ("is a Logs Insights command outside the lab's subset"
                    if word in {w.lower() for w in REFUSED} else "is not a command")
            raise QueryError(f"{token.text!r} {what}; the subset has: {known}")
        if word == "fields":
            if query.aggregates is not None:
                raise QueryError("fields after stats is outside the lab's subset")
            query.fields = (query.fields or []) + self.names()
        elif word == "display":
            query.display = self.names()
        elif word == "filter":
            if query.aggregates is not None and query.stats_at is None:
                query.stats_at = len(query.filters)
            query.filters.append(self.expression())
        elif word == "stats":
            if query.aggregates is not None:
                raise QueryError("a second stats is outside the lab's subset")
            query.aggregates = self.aggregates()
            if self.word("by"):
                self.take()
                query.group_by = self.names()
        elif word == "sort":
            query.sort = []
            while True:
                name = self.name()
                descending = True
                if self.word("asc", "desc"):
                    descending = self.take().text.lower() == "desc"
                query.sort.append((name, descending))
                if not self.op(","):
                    break
                self.take()
        elif word == "limit":
            token = self.take()
            if token.kind != "value" or not isinstance(token.value, float) \
                    or token.value != int(token.value) or not 0 < token.value <= 10_000:
                raise QueryError(f"limit takes a whole number from 1 to 10000, not {token.text}")
            query.limit = int(token.value)

    def aggregates(self) -> list[Aggregate]:
        found = []
        while True:
            token = self.take()
            function = token.text.lower()
            if token.kind != "name" or function not in AGGREGATES:
                raise QueryError(f"{token.text!r} is not a statistic of the lab's subset "
                                 f"({', '.join(f + '()' for f in AGGREGATES)})")
            self.expect("(")
            argument, star = None, self.op("*")
            if star:
                self.take()
            elif not self.op(")"):
                argument = self.name()
            self.expect(")")
            if argument is None and function != "count":
                raise QueryError(f"{function}() needs a field")
            label = f"{function}({'*' if star else argument or ''})"
            if self.word("as"):
                self.take()
                label = self.name()
            found.append(Aggregate(function, argument, label))
            if not self.op(","):
                return found
            self.take()

    def expression(self) -> Any:
        parts = [self.conjunction()]
        while self.word("or"):
            self.take()
            parts.append(self.conjunction())
        return parts[0] if len(parts) == 1 else Logic("or", tuple(parts))

    def conjunction(self) -> Any:
        parts = [self.negation()]
        while self.word("and"):
            self.take()
            parts.append(self.negation())
        return parts[0] if len(parts) == 1 else Logic("and", tuple(parts))

    def negation(self) -> Any:
        if self.word("not") and not self.word("like", "in", offset=1):
            self.take()
            return Logic("not", (self.negation(),))
        if self.op("("):
            self.take()
            inner = self.expression()
            self.expect(")")
            return inner
        return self.comparison()

    def comparison(self) -> Compare:
        name = self.name()
        negate = False
        if self.word("not"):
            self.take()
            negate = True
            if not self.word("like", "in"):
                raise QueryError("'not' after a field name must be followed by like or in")
        if self.word("like"):
            self.take()
            token = self.take()
            if token.kind == "regex":
                return Compare(name, "regex", token.value, negate)
            if token.kind != "value" or not isinstance(token.value, str):
                raise QueryError(f"like takes a \"string\" or a /regex/, not {token.text}")
            return Compare(name, "like", token.value, negate)
        if self.word("in"):
            self.take()
            self.expect("[")
            values = [self.value()]
            while self.op(","):
                self.take()
                values.append(self.value())
            self.expect("]")
            return Compare(name, "in", tuple(values), negate)
        token = self.take()
        if token.kind != "op" or token.text not in ("=", "==", "!=", "<", "<=", ">", ">=", "=~"):
            raise QueryError(f"expected a comparison after {name!r} but found {token.text!r}")
        if token.text == "=~":
            target = self.take()
            if target.kind != "regex":
                raise QueryError("=~ takes a /regex/")
            return Compare(name, "regex", target.value)
        return Compare(name, "=" if token.text == "==" else token.text, self.value())

    def value(self) -> Any:
        token = self.take()
        if token.kind != "value":
            raise QueryError(f"expected a \"string\" or a number but found {token.text!r}"
                             + (" (quote strings)" if token.kind == "name" else ""))
        return token.value


def parse(text: str) -> Query:
    """The parsed query; ``QueryError`` for anything outside the subset."""
    return Parser(text).query()
