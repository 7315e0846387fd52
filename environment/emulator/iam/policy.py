"""Policy evaluation, as a pure function of policies and a request context.

It follows AWS's documented logic for a single account: an explicit Deny in
any policy wins; otherwise the identity-based policies must Allow, and when the
session has session policies they must Allow too. Statements match on
Action/NotAction, Resource/NotResource (with wildcards and policy variables)
and every Condition. What is not implemented (permission boundaries, SCPs,
resource-based policies, date and IP operators) is listed in the README, and a
policy that uses an operator we do not know is refused rather than guessed.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from typing import Any

from .record import (
    ALLOWED,
    EXPLICIT_IDENTITY_DENY,
    EXPLICIT_SESSION_DENY,
    NO_IDENTITY_ALLOW,
    NO_SESSION_ALLOW,
    UNSUPPORTED,
    ConditionRecord,
    DecisionRecord,
    StatementRecord,
    nearest_miss,
)

ContextValue = str | bool | int | Sequence[str]

NEVER = "(?!)"  # a regex that matches nothing: what a missing policy variable becomes


class UnsupportedPolicy(Exception):
    """The policy uses something the gate does not evaluate; refusing beats guessing."""


@dataclass(frozen=True)
class Request:
    """One authorisation question: may this principal do ``action`` on ``resource``?"""

    action: str
    resource: str
    context: Mapping[str, ContextValue] = field(default_factory=dict)


@dataclass(frozen=True)
class Decision:
    """The answer, its reason in AWS's words, and (on demand) the record of how it was reached.

    The record is computed only when someone reads it (the audit trail, ``lab.why``), by
    evaluating the same request again with tracing on: deciding stays as fast as it was.
    """

    allowed: bool
    reason: str  # in AWS's words, for error messages and the audit log
    reason_type: str = ""
    explain: Callable[[], DecisionRecord] | None = field(default=None, compare=False,
                                                         repr=False)

    @cached_property
    def record(self) -> DecisionRecord | None:
        return self.explain() if self.explain else None


def lower_keys(context: Mapping[str, ContextValue]) -> dict[str, ContextValue]:
    """Condition key names are case-insensitive (values are not)."""
    return {key.lower(): value for key, value in context.items()}


def as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list | tuple) else [value]


VARIABLES_VERSION = "2012-10-17"  # the only policy language version with policy variables


@dataclass(frozen=True)
class Parsed:
    """A policy's statements, and whether its version substitutes ``${...}`` variables."""

    statements: tuple[dict[str, Any], ...]
    variables: bool


@lru_cache(maxsize=512)
def parse(document: str) -> Parsed:
    """The statements of a policy document (JSON text), parsed once and cached."""
    try:
        policy = json.loads(document)
    except json.JSONDecodeError as error:
        raise UnsupportedPolicy(f"the policy is not valid JSON: {error}") from None
    if not isinstance(policy, dict):
        raise UnsupportedPolicy("the policy is not a JSON object")
    return _parsed(policy)


def _parsed(policy: Mapping[str, Any]) -> Parsed:
    statements = tuple(as_list(policy.get("Statement", [])))
    if not all(isinstance(s, Mapping) for s in statements):
        raise UnsupportedPolicy("a statement is not a JSON object")
    # Without "Version": "2012-10-17", AWS reads ${...} as literal text (its documentation on
    # policy variables), so a policy copied without its Version line grants less, not more.
    return Parsed(statements, policy.get("Version") == VARIABLES_VERSION)


def statements_of(policy: str | Mapping[str, Any]) -> Parsed:
    if isinstance(policy, str):
        return parse(policy)
    return _parsed(policy)


# --- policy variables and wildcards ------------------------------------------------------------

VARIABLE = re.compile(r"\$\{([^}]*)\}")
SPECIAL = {"*": "*", "?": "?", "$": "$"}


def _variable(name: str, context: Mapping[str, ContextValue]) -> str | None:
    key, _, default = name.partition(",")
    key = key.strip()
    if key in SPECIAL:
        return SPECIAL[key]
    value = context.get(key.lower())
    if isinstance(value, list | tuple):
        value = None  # multi-valued keys cannot be substituted
    if value is None and default:
        return default.strip().strip("'")
    return None if value is None else str(value).lower() if isinstance(value, bool) else str(value)


def pattern(text: str, context: Mapping[str, ContextValue] | None, wildcards: bool,
            ignore_case: bool = False) -> re.Pattern[str]:
    """A compiled matcher for a policy value: variables substituted, * and ? as wildcards.

    ``context`` None means the policy's version has no variables: ``${...}`` is literal.
    """
    pieces: list[str] = []
    position = 0
    for match in VARIABLE.finditer(text) if context is not None else ():
        pieces.append(_literal(text[position:match.start()], wildcards))
        value = _variable(match.group(1), context)
        pieces.append(NEVER if value is None else re.escape(value))
        position = match.end()
    pieces.append(_literal(text[position:], wildcards))
    return re.compile("".join(pieces) + r"\Z", re.DOTALL | (re.IGNORECASE if ignore_case else 0))


def substitute(text: str, context: Mapping[str, ContextValue] | None) -> str:
    """A policy value as the evaluator compared it: variables replaced, for people to read."""
    if context is None:
        return text

    def value(match: re.Match[str]) -> str:
        found = _variable(match.group(1), context)
        return found if found is not None else f"<no {match.group(1).split(',')[0].strip()}>"

    return VARIABLE.sub(value, text)


def _literal(text: str, wildcards: bool) -> str:
    escaped = re.escape(text)
    if wildcards:
        escaped = escaped.replace(r"\*", ".*").replace(r"\?", ".")
    return escaped


def glob_matches(value: str, globs: Iterable[str], context: Mapping[str, ContextValue] | None,
                 ignore_case: bool = False) -> bool:
    return any(pattern(str(g), context, True, ignore_case).match(value) for g in globs)


def arn_matches(value: str, wanted: str, variables: Mapping[str, ContextValue] | None) -> bool:
    """ArnLike/ArnEquals: each of the six colon-separated parts is matched on its own, so a
    wildcard never crosses a colon (AWS's documentation of the ARN condition operators)."""
    parts, wanted_parts = value.split(":", 5), str(wanted).split(":", 5)
    if len(parts) != 6 or len(wanted_parts) != 6:
        return False
    return all(pattern(w, variables, True).match(p) for p, w in zip(parts, wanted_parts,
                                                                     strict=True))


# --- conditions --------------------------------------------------------------------------------

STRING_OPERATORS = {
    # operator: (wildcards, ignore case, negated)
    "StringEquals": (False, False, False),
    "StringNotEquals": (False, False, True),
    "StringEqualsIgnoreCase": (False, True, False),
    "StringNotEqualsIgnoreCase": (False, True, True),
    "StringLike": (True, False, False),
    "StringNotLike": (True, False, True),
}
ARN_OPERATORS = {"ArnEquals": False, "ArnLike": False, "ArnNotEquals": True, "ArnNotLike": True}
NUMERIC_OPERATORS = {
    "NumericEquals": lambda a, b: a == b, "NumericNotEquals": lambda a, b: a != b,
    "NumericLessThan": lambda a, b: a < b, "NumericLessThanEquals": lambda a, b: a <= b,
    "NumericGreaterThan": lambda a, b: a > b, "NumericGreaterThanEquals": lambda a, b: a >= b,
}


KNOWN_OPERATORS = {*STRING_OPERATORS, *ARN_OPERATORS, *NUMERIC_OPERATORS, "Bool", "Null"}


def _one_value_matches(operator: str, value: ContextValue, wanted: list[Any],
                       context: Mapping[str, ContextValue] | None) -> bool:
    """Whether one request value satisfies the operator against the policy's values (OR)."""
    if operator in STRING_OPERATORS:
        wildcards, ignore_case, negated = STRING_OPERATORS[operator]
        text = str(value).lower() if isinstance(value, bool) else str(value)
        hit = any(pattern(str(w), context, wildcards, ignore_case).match(text) for w in wanted)
        return not hit if negated else hit
    if operator in ARN_OPERATORS:
        hit = any(arn_matches(str(value), w, context) for w in wanted)
        return not hit if ARN_OPERATORS[operator] else hit
    if operator == "Bool":
        text = str(value).lower()
        return any(text == str(w).lower() for w in wanted)
    if operator in NUMERIC_OPERATORS:
        try:
            number = float(value)  # type: ignore[arg-type]
            return any(NUMERIC_OPERATORS[operator](number, float(w)) for w in wanted)
        except (TypeError, ValueError):
            return False
    raise UnsupportedPolicy(f"the condition operator {operator!r} is not implemented by the gate")


def json_text(value: Any) -> Any:
    """A policy value as the text it is in the policy's JSON: ``false`` is "false", ``1.5`` is
    "1.5" (IAM's grammar: quotation marks are optional for numeric and Boolean values)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return json.dumps(value)
    return value


def _negated(operator: str) -> bool:
    return operator in STRING_OPERATORS and STRING_OPERATORS[operator][2] or \
        ARN_OPERATORS.get(operator, False) or operator == "NumericNotEquals"


def condition_holds(operator: str, key: str, wanted: Any,
                    context: Mapping[str, ContextValue], variables: bool = True) -> bool:
    """One operator on one key, with AWS's rules for set qualifiers and missing keys.

    The operator is checked first, whatever the request holds: a policy with an
    operator the gate does not know is refused, even where a missing key would
    make the answer look obvious (ForAllValues on an absent key).
    """
    qualifier, _, operator = operator.rpartition(":")
    if_exists = operator.endswith("IfExists")
    operator = operator.removesuffix("IfExists")
    if operator not in KNOWN_OPERATORS or (if_exists and operator == "Null"):
        name = operator + ("IfExists" if if_exists else "")
        raise UnsupportedPolicy(f"the condition operator {name!r} is not implemented by the "
                                "gate" + (" (Null has no IfExists form)" if operator == "Null"
                                          else ""))
    if qualifier not in ("", "ForAllValues", "ForAnyValue"):
        raise UnsupportedPolicy(f"the set operator {qualifier!r} is not implemented")
    substitutions = context if variables else None
    wanted = [json_text(w) for w in as_list(wanted)]
    value = context.get(key.lower())
    missing = value is None or (isinstance(value, list | tuple) and not value)
    if operator == "Null":
        return any(str(w).lower() == ("true" if missing else "false") for w in wanted)
    values = as_list(value)
    if qualifier == "ForAllValues":
        return missing or all(_one_value_matches(operator, v, wanted, substitutions)
                              for v in values)
    if qualifier == "ForAnyValue":
        return not missing and any(_one_value_matches(operator, v, wanted, substitutions)
                                   for v in values)
    if missing:
        return if_exists or _negated(operator)
    return any(_one_value_matches(operator, v, wanted, substitutions) for v in values)


def conditions_hold(block: Mapping[str, Mapping[str, Any]],
                    context: Mapping[str, ContextValue], variables: bool = True,
                    trace: list[ConditionRecord] | None = None) -> bool:
    """Every operator and every key must hold (AND); values within one key are ORed.

    With ``trace``, each condition evaluated (up to the first that fails) is recorded.
    """
    if not isinstance(block, Mapping) or not all(isinstance(k, Mapping) for k in block.values()):
        raise UnsupportedPolicy("a Condition block must map operators to {key: values}")
    for operator, keys in block.items():
        for key, wanted in keys.items():
            holds = condition_holds(operator, key, wanted, context, variables)
            if trace is not None:
                value = context.get(key.lower())
                shown = None if value is None else tuple(
                    str(v).lower() if isinstance(v, bool) else str(v) for v in as_list(value))
                trace.append(ConditionRecord(operator, key, shown, tuple(
                    substitute(str(json_text(w)), context if variables else None)
                    for w in as_list(wanted)),
                    holds))
            if not holds:
                return False
    return True


# --- statements and evaluation -----------------------------------------------------------------


def _action_matches(statement: Mapping[str, Any], request: Request) -> bool:
    if "Action" in statement:
        return glob_matches(request.action, as_list(statement["Action"]), {}, ignore_case=True)
    if "NotAction" in statement:
        return not glob_matches(request.action, as_list(statement["NotAction"]), {},
                                ignore_case=True)
    return True


def _resource_matches(statement: Mapping[str, Any], request: Request,
                      substitutions: Mapping[str, ContextValue] | None) -> bool:
    if "Resource" in statement:
        return glob_matches(request.resource, as_list(statement["Resource"]), substitutions)
    if "NotResource" in statement:
        return not glob_matches(request.resource, as_list(statement["NotResource"]),
                                substitutions)
    return True


def statement_applies(statement: Mapping[str, Any], request: Request,
                      context: Mapping[str, ContextValue], variables: bool = True,
                      trace: list[StatementRecord] | None = None, label: str = "") -> bool:
    """Action, then resource, then every condition; with ``trace``, what matched is recorded."""
    action = _action_matches(statement, request)
    resource = action and _resource_matches(statement, request, context if variables else None)
    conditions: list[ConditionRecord] | None = [] if trace is not None else None
    applies = False
    try:  # an unsupported operator raises: the record still shows how far evaluation got
        applies = resource and conditions_hold(statement.get("Condition", {}), context,
                                               variables, conditions)
    finally:
        if trace is not None:
            sid = str(statement.get("Sid") or f"statement {len(trace) + 1}")
            trace.append(StatementRecord(label, sid, str(statement.get("Effect", "")), action,
                                         resource, tuple(conditions or ()), applies))
    return applies


def _effects(policies: Sequence[str | Mapping[str, Any]], request: Request,
             context: Mapping[str, ContextValue], kind: str = "identity",
             trace: list[StatementRecord] | None = None) -> tuple[bool, bool]:
    """(some statement allows, some statement denies) across the policies."""
    allowed = denied = False
    for number, policy in enumerate(policies, 1):
        parsed = statements_of(policy)
        for statement in parsed.statements:
            if statement_applies(statement, request, context, parsed.variables, trace,
                                 f"{kind} policy {number}"):
                if statement.get("Effect") == "Deny":
                    denied = True
                elif statement.get("Effect") == "Allow":
                    allowed = True
    return allowed, denied


def _verdict(request: Request, identity: tuple[bool, bool], session: tuple[bool, bool],
             has_session: bool) -> tuple[bool, str, str]:
    """(allowed, reason in AWS's words, reason type) from what the policies said."""
    (allow_identity, deny_identity), (allow_session, deny_session) = identity, session
    if deny_identity:
        return False, f"with an {EXPLICIT_IDENTITY_DENY}", EXPLICIT_IDENTITY_DENY
    if deny_session:
        return False, f"with an {EXPLICIT_SESSION_DENY}", EXPLICIT_SESSION_DENY
    if not allow_identity:
        return False, f"because {NO_IDENTITY_ALLOW} the {request.action} action", \
            NO_IDENTITY_ALLOW
    if has_session and not allow_session:
        return False, f"because {NO_SESSION_ALLOW} the {request.action} action", NO_SESSION_ALLOW
    return True, ALLOWED, ALLOWED


def evaluate(request: Request, identity_policies: Sequence[str | Mapping[str, Any]],
             session_policies: Sequence[str | Mapping[str, Any]] | None = None) -> Decision:
    """AWS's decision for one request within one account, with its reason in AWS's words."""
    context = lower_keys(request.context)

    def explain() -> DecisionRecord:
        return _record(request, identity_policies, session_policies)

    try:
        identity = _effects(identity_policies, request, context)
        session = _effects(session_policies or (), request, context, "session")
    except UnsupportedPolicy as error:
        return Decision(False, f"the lab's IAM gate cannot evaluate the policy: {error}",
                        UNSUPPORTED, explain)
    allowed, reason, reason_type = _verdict(request, identity, session,
                                            session_policies is not None)
    return Decision(allowed, reason, reason_type, explain)


def _record(request: Request, identity_policies: Sequence[str | Mapping[str, Any]],
            session_policies: Sequence[str | Mapping[str, Any]] | None) -> DecisionRecord:
    """The same evaluation again, with every statement and condition it looked at recorded."""
    context = lower_keys(request.context)
    trace: list[StatementRecord] = []
    try:
        identity = _effects(identity_policies, request, context, "identity", trace)
        session = _effects(session_policies or (), request, context, "session", trace)
    except UnsupportedPolicy as error:
        return DecisionRecord("Deny", UNSUPPORTED, request.action, request.resource,
                              dict(request.context), tuple(trace), trace[-1] if trace else None,
                              str(error))
    allowed, _, reason_type = _verdict(request, identity, session, session_policies is not None)
    statements = tuple(trace)
    if reason_type in (EXPLICIT_IDENTITY_DENY, EXPLICIT_SESSION_DENY):
        kind = "identity" if reason_type == EXPLICIT_IDENTITY_DENY else "session"
        deciding = next(s for s in statements if s.applies and s.effect == "Deny"
                        and s.policy.startswith(kind))
    elif reason_type == ALLOWED:
        deciding = next(s for s in statements if s.applies and s.effect == "Allow")
    else:
        deciding = nearest_miss(statements, "identity" if reason_type == NO_IDENTITY_ALLOW
                                else "session")
    return DecisionRecord("Allow" if allowed else "Deny", reason_type, request.action,
                          request.resource, dict(request.context), statements, deciding)


def principal_matches(principal_block: Any, caller_arn: str, caller_account: str,
                      caller_role_arn: str | None = None) -> bool:
    """Whether a trust policy's Principal names the caller (AWS principals only)."""
    if principal_block == "*":
        return True
    entries = as_list(principal_block.get("AWS")) if isinstance(principal_block, Mapping) else []
    for entry in entries:
        if entry == "*":
            return True
        if entry in (caller_account, f"arn:aws:iam::{caller_account}:root"):
            return True
        if entry in (caller_arn, caller_role_arn):
            return True
    return False


def trust_allows(trust_policy: str | Mapping[str, Any], request: Request, caller_arn: str,
                 caller_account: str, caller_role_arn: str | None = None) -> Decision:
    """The role's trust policy decision for sts:AssumeRole or sts:TagSession by a caller."""
    context = lower_keys(request.context)
    allowed = denied = False
    try:
        parsed = statements_of(trust_policy)
        for statement in parsed.statements:
            if not principal_matches(statement.get("Principal"), caller_arn, caller_account,
                                     caller_role_arn):
                continue
            if not glob_matches(request.action, as_list(statement.get("Action")), {},
                                ignore_case=True):
                continue
            if not conditions_hold(statement.get("Condition", {}), context, parsed.variables):
                continue
            if statement.get("Effect") == "Deny":
                denied = True
            elif statement.get("Effect") == "Allow":
                allowed = True
    except UnsupportedPolicy as error:
        return Decision(False, f"the lab's IAM gate cannot evaluate the trust policy: {error}")
    if denied:
        return Decision(False, "with an explicit deny in the role's trust policy")
    if not allowed:
        return Decision(False, f"because the role's trust policy does not allow {request.action} "
                               "for this principal")
    return Decision(True, "allowed")
