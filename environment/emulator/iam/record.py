"""What the evaluator considered on the way to a decision, for people to read.

AWS's own denial messages name only the reason type ("no identity-based policy
allows ..."). A learner who sees a denial they did not expect needs more: which
statements were considered, which of them matched the action and the resource,
and for the statement that decided (or nearly allowed), each condition with the
request's values and the policy's pattern after variable substitution.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

# AWS's reason types, as its access-denied messages phrase them.
EXPLICIT_IDENTITY_DENY = "explicit deny in an identity-based policy"
EXPLICIT_SESSION_DENY = "explicit deny in a session policy"
NO_IDENTITY_ALLOW = "no identity-based policy allows"
NO_SESSION_ALLOW = "no session policy allows"
ALLOWED = "allowed"
UNSUPPORTED = "unsupported policy"


@dataclass(frozen=True)
class ConditionRecord:
    operator: str  # as written: ForAllValues:StringLike, StringEqualsIfExists, ...
    key: str
    values: tuple[str, ...] | None  # the request context's values; None when the key is absent
    patterns: tuple[str, ...]  # the policy's values, policy variables substituted
    holds: bool


@dataclass(frozen=True)
class StatementRecord:
    policy: str  # "identity policy 1", "session policy 2"
    sid: str  # the statement's Sid, or its position
    effect: str
    action_matches: bool
    resource_matches: bool
    conditions: tuple[ConditionRecord, ...]  # evaluated in order, up to the first that fails
    applies: bool

    @property
    def name(self) -> str:
        return f"{self.policy} / {self.sid}"


@dataclass(frozen=True)
class DecisionRecord:
    effect: str  # "Allow" | "Deny"
    reason_type: str
    action: str
    resource: str
    context: dict[str, Any]
    statements: tuple[StatementRecord, ...]
    deciding: StatementRecord | None  # the deny or allow that decided, or the nearest miss
    note: str = ""  # why evaluation stopped, for an unsupported policy

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DecisionRecord:
        def statement(s: dict[str, Any]) -> StatementRecord:
            conditions = tuple(ConditionRecord(**{**c, "values": None if c["values"] is None
                                                  else tuple(c["values"]),
                                                  "patterns": tuple(c["patterns"])})
                               for c in s["conditions"])
            return StatementRecord(**{**s, "conditions": conditions})

        statements = tuple(statement(s) for s in data["statements"])
        deciding = statement(data["deciding"]) if data.get("deciding") else None
        return cls(**{**data, "statements": statements, "deciding": deciding})


def nearest_miss(statements: tuple[StatementRecord, ...], policy_kind: str
                 ) -> StatementRecord | None:
    """For an implicit deny: the Allow that came closest (action and resource, then action)."""
    allows = [s for s in statements if s.effect == "Allow" and s.policy.startswith(policy_kind)]
    return next((s for s in allows if s.action_matches and s.resource_matches), None) or next(
        (s for s in allows if s.action_matches), None)
