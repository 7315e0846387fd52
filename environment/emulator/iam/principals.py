"""Who signed a request, and which policies speak for them.

The gate reads roles, users and their policies straight from moto's IAM
backend (it runs in the same process; ``moto_adapter`` reads it), so a policy
attached a moment ago applies to the next request, as on AWS. What moto does not keep, the session
tags, transitive tag keys and session policies of an AssumeRole call, the gate
records itself when it sees the call succeed.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from .. import moto_adapter
from ..moto_adapter import ACCOUNT

# Who signed: the kit's administrator, an AssumeRole session, an IAM user, nobody (unsigned),
# or a key nobody issued.
Kind = Literal["admin", "session", "user", "anonymous", "invalid"]
NO_SESSION = ("", 0.0)  # a temporary key STS does not know: no token matches, long expired


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
    token: str = ""  # the SessionToken every request signed with this key must carry


@dataclass(frozen=True)
class Principal:
    kind: Kind
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


def resolve(access_key_id: str, sessions: Sessions, admin_key: str,
            admin_secret: str) -> Principal:
    """The principal behind an access key, with the secret and token its requests must prove.

    Only the kit's configured administrator key is the administrator. A key that
    neither STS nor IAM issued (or issued before a reset) is invalid: a stale or
    invented credential must not gain access.
    """
    if access_key_id == admin_key:
        return administrator(admin_secret)
    session = sessions.get(access_key_id)
    key = moto_adapter.access_key(access_key_id)
    if key is None or not key.active:
        return Principal("invalid", f"unknown access key {access_key_id}")
    role_arn = session.role_arn if session else key.role_arn
    if role_arn:
        token, expires = (session.token, session.expires) if session else (
            moto_adapter.assumed_session(access_key_id) or NO_SESSION)
        return replace(_session_principal(role_arn, session), secret=key.secret,
                       token=token, expires=expires)
    if key.user_name:
        return replace(_user_principal(key.user_name), secret=key.secret)
    return Principal("invalid", f"unknown access key {access_key_id}")


def _session_principal(role_arn: str, session: Session | None) -> Principal:
    role_name = role_arn.rsplit("/", 1)[-1]
    role = moto_adapter.role(role_arn)  # None once deleted: the session keeps no permissions
    session_name = session.session_name if session else "session"
    tags = {**(role.tags if role else {}), **(session.tags if session else {})}
    return Principal(
        kind="session",
        arn=f"arn:aws:sts::{ACCOUNT}:assumed-role/{role_name}/{session_name}",
        userid=f"{role.id if role else 'AROADELETED'}:{session_name}",
        tags=tags,
        identity_policies=role.policies if role else (),
        session_policies=session.session_policies if session else None,
        expires=session.expires if session else None,
        role_arn=role_arn,
        transitive_tags={k: v for k, v in tags.items()
                         if session and k in session.transitive_keys},
    )


def _user_principal(user_name: str) -> Principal:
    user = moto_adapter.user(user_name)
    return Principal("user", user.arn, userid=user.id, username=user.name, tags=user.tags,
                     identity_policies=user.policies)


def expired(principal: Principal, now: float) -> bool:
    return principal.expires is not None and principal.expires < now
