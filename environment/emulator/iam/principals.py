"""Who signed a request, and which policies speak for them.

The gate reads roles, users and their policies straight from moto's IAM
backend (it runs in the same process), so a policy attached a moment ago
applies to the next request, as on AWS. What moto does not keep, the session
tags, transitive tag keys and session policies of an AssumeRole call, the gate
records itself when it sees the call succeed.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field, replace
from datetime import UTC
from typing import Any

from ...settings import EMULATOR_ACCOUNT as ACCOUNT

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
    token: str = ""  # the SessionToken every request signed with this key must carry


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
    secret: str | None = field(default=None, repr=False)  # to verify signatures with
    token: str | None = field(default=None, repr=False)  # required with a session's key

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
ANONYMOUS = Principal("anonymous", "anonymous")


def administrator(secret: str) -> Principal:
    """The account's administrator: the kit's own configured key, and only that key."""
    return replace(ADMIN, secret=secret)


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


def resolve(access_key_id: str, sessions: Sessions, admin_key: str,
            admin_secret: str) -> Principal:
    """The principal behind an access key, with the secret and token its requests must prove.

    Only the kit's configured administrator key is the administrator. A key that
    neither STS nor IAM issued (or issued before a reset) is invalid: a stale or
    invented credential must not gain access.
    """
    if access_key_id == admin_key:
        return administrator(admin_secret)
    iam = iam_backend()
    session = sessions.get(access_key_id)
    key = iam.access_keys.get(access_key_id)
    if key is None or getattr(key, "status", "Active") != "Active":
        return Principal("invalid", f"unknown access key {access_key_id}")
    role_arn = session.role_arn if session else getattr(key, "role_arn", None)
    if role_arn:
        token, expires = (session.token, session.expires) if session else moto_session(
            access_key_id)
        return replace(_session_principal(iam, role_arn, session),
                       secret=key.secret_access_key, token=token, expires=expires)
    if getattr(key, "user_name", None):
        return replace(_user_principal(iam, key.user_name), secret=key.secret_access_key)
    return Principal("invalid", f"unknown access key {access_key_id}")


def moto_session(access_key_id: str) -> tuple[str, float]:
    """The session token and expiry moto gave a temporary key (for sessions the gate did not
    record itself, e.g. from before a restart of the gate's bookkeeping)."""
    from moto.sts.models import sts_backends

    role = sts_backends[ACCOUNT][PARTITION].get_assumed_role_from_access_key(access_key_id)
    if role is None:
        return "", 0.0  # no token can match, and it is long expired
    return role.session_token, role.expiration.replace(tzinfo=UTC).timestamp()


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


def expired(principal: Principal, now: float) -> bool:
    return principal.expires is not None and principal.expires < now
