"""Who signed a request, and which policies speak for them.

The gate reads roles, users and their policies straight from moto's IAM
backend (it runs in the same process), so a policy attached a moment ago
applies to the next request, as on AWS. What moto does not keep, the session
tags, transitive tag keys and session policies of an AssumeRole call, the gate
records itself when it sees the call succeed.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any

from ..settings import EMULATOR_ACCOUNT as ACCOUNT

PARTITION = "aws"


@dataclass(frozen=True)
class Session:
    """An AssumeRole session as the gate saw it being created."""

    access_key_id: str
    role_arn: str
    session_name: str
    tags: dict[str, str]
    transitive_keys: frozenset[str]
    session_policies: tuple[str, ...] | None
    expires: float
    source_arn: str


@dataclass(frozen=True)
class Principal:
    kind: str  # "admin" | "session" | "user"
    arn: str
    account: str = ACCOUNT
    userid: str = ""
    username: str | None = None
    tags: dict[str, str] = field(default_factory=dict)
    identity_policies: tuple[str, ...] = ()
    session_policies: tuple[str, ...] | None = None
    expires: float | None = None
    role_arn: str | None = None
    transitive_tags: dict[str, str] = field(default_factory=dict)

    @property
    def is_admin(self) -> bool:
        return self.kind == "admin"

    @property
    def is_invalid(self) -> bool:
        return self.kind == "invalid"

    def context(self) -> dict[str, Any]:
        """The global condition keys this principal brings to every request."""
        context: dict[str, Any] = {
            "aws:PrincipalArn": self.role_arn or self.arn,
            "aws:PrincipalAccount": self.account,
            "aws:userid": self.userid,
            "aws:PrincipalType": {"session": "AssumedRole", "user": "User"}.get(self.kind,
                                                                              "Account"),
            "aws:SecureTransport": False,
        }
        if self.username:
            context["aws:username"] = self.username
        for key, value in self.tags.items():
            context[f"aws:PrincipalTag/{key}"] = value
        return context


ADMIN = Principal("admin", f"arn:aws:iam::{ACCOUNT}:root", userid=ACCOUNT)
ISSUED_KEY_PREFIXES = ("ASIA", "AKIA")  # what STS and IAM hand out


class Sessions:
    """The sessions the gate recorded, by access key id. Cleared when moto is reset."""

    def __init__(self) -> None:
        self._sessions: dict[str, Session] = {}
        self._lock = threading.Lock()

    def record(self, session: Session) -> None:
        with self._lock:
            self._sessions[session.access_key_id] = session

    def get(self, access_key_id: str) -> Session | None:
        with self._lock:
            return self._sessions.get(access_key_id)

    def clear(self) -> None:
        with self._lock:
            self._sessions.clear()


def iam_backend(account: str = ACCOUNT) -> Any:
    from moto.iam.models import iam_backends

    return iam_backends[account][PARTITION]


def managed_document(policy: Any) -> str:
    return next((v.document for v in policy.versions if v.is_default), "{}")


def role_policies(role: Any) -> tuple[str, ...]:
    return tuple(role.policies.values()) + tuple(managed_document(p)
                                                 for p in role.managed_policies.values())


def tag_dict(tags: Any) -> dict[str, str]:
    """moto keeps tags as a list of {Key, Value} for roles and as a dict for users."""
    if isinstance(tags, dict):
        return {k: (v["Value"] if isinstance(v, dict) else v) for k, v in tags.items()}
    return {t["Key"]: t["Value"] for t in tags or []}


def resolve(access_key_id: str, sessions: Sessions, admin_keys: frozenset[str]) -> Principal:
    """The principal behind an access key.

    Keys that look issued (ASIA..., AKIA...) but that nobody knows, for example
    a session from before a reset, are invalid, never the administrator: a
    stale credential must not gain access. Any other key acts as the account's
    administrator, as everything does on plain moto.
    """
    if access_key_id in admin_keys:
        return ADMIN
    iam = iam_backend()
    session = sessions.get(access_key_id)
    key = iam.access_keys.get(access_key_id)
    role_arn = session.role_arn if session else getattr(key, "role_arn", None)
    if role_arn:
        return _session_principal(iam, role_arn, session)
    if key is not None and getattr(key, "user_name", None):
        return _user_principal(iam, key.user_name)
    if access_key_id.startswith(ISSUED_KEY_PREFIXES):
        return Principal("invalid", f"unknown access key {access_key_id}")
    return ADMIN


def _session_principal(iam: Any, role_arn: str, session: Session | None) -> Principal:
    role_name = role_arn.rsplit("/", 1)[-1]
    try:
        role = iam.get_role_by_arn(role_arn)
        policies, role_tags, role_id = role_policies(role), tag_dict(role.tags), role.id
    except Exception:  # the role was deleted: the session keeps no permissions
        policies, role_tags, role_id = (), {}, "AROADELETED"
    session_name = session.session_name if session else "session"
    tags = {**role_tags, **(session.tags if session else {})}
    return Principal(
        kind="session",
        arn=f"arn:aws:sts::{ACCOUNT}:assumed-role/{role_name}/{session_name}",
        userid=f"{role_id}:{session_name}",
        tags=tags,
        identity_policies=policies,
        session_policies=session.session_policies if session else None,
        expires=session.expires if session else None,
        role_arn=role_arn,
        transitive_tags={k: v for k, v in tags.items()
                         if session and k in session.transitive_keys},
    )


def _user_principal(iam: Any, user_name: str) -> Principal:
    user = iam.get_user(user_name)
    policies = tuple(user.policies.values()) + tuple(
        managed_document(p) for p in user.managed_policies.values())
    for group in iam.get_groups_for_user(user_name):
        policies += tuple(group.policies.values()) + tuple(
            managed_document(p) for p in group.managed_policies.values())
    return Principal("user", user.arn, userid=user.id, username=user.name,
                     tags=tag_dict(getattr(user, "tags", {})), identity_policies=policies)


def expired(principal: Principal) -> bool:
    return principal.expires is not None and principal.expires < time.time()
