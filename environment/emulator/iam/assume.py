"""sts:AssumeRole as AWS authorises it, and the session the gate remembers afterwards.

moto creates the session but keeps neither its tags, nor its transitive tag
keys, nor its session policies; the gate evaluates the caller's permission and
the role's trust policy (for sts:TagSession too when tags are passed), and
records the session when moto's answer names the new access key.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from .. import moto_adapter
from .policy import Decision, Request, evaluate, trust_allows
from .principals import NO_SESSION, Principal, Session


def session_request(params: Mapping[str, Any], caller: Principal) -> dict[str, Any]:
    """What an AssumeRole call asks for: role, name, tags (transitive ones kept), policies."""
    tags = {t.get("Key", ""): t.get("Value", "") for t in params.get("Tags") or []}
    tags = {**tags, **caller.transitive_tags}  # transitive tags cannot be overridden
    transitive = frozenset(params.get("TransitiveTagKeys") or []) | frozenset(
        caller.transitive_tags)
    arns = [a.get("arn") if isinstance(a, Mapping) else a for a in params.get("PolicyArns") or []]
    return {"role_arn": params.get("RoleArn", ""), "name": params.get("RoleSessionName", ""),
            "tags": tags, "transitive": transitive, "policy": params.get("Policy"),
            "policy_arns": arns}


def assume_request(wanted: dict[str, Any], caller: Principal) -> Request:
    tags = wanted["tags"]
    context = {**caller.context(), "sts:RoleSessionName": wanted["name"],
               "aws:TagKeys": list(tags), "sts:TransitiveTagKeys": list(wanted["transitive"]),
               **{f"aws:RequestTag/{k}": v for k, v in tags.items()}}
    return Request("sts:AssumeRole", wanted["role_arn"], context)


def may_assume(caller: Principal, request: Request, tagging: bool) -> Decision:
    """The caller's own policies (unless administrator), then the role's trust policy."""
    if not caller.is_admin:
        own = evaluate(request, caller.identity_policies, caller.session_policies)
        if not own.allowed:
            return own
    role = moto_adapter.role(request.resource)
    if role is None:
        return Decision(False, "because the role does not exist")
    for action in ("sts:AssumeRole", "sts:TagSession") if tagging else ("sts:AssumeRole",):
        decision = trust_allows(role.trust_policy,
                                Request(action, request.resource, request.context), caller.arn,
                                caller.account, caller.role_arn)
        if not decision.allowed:
            return decision
    return Decision(True, "allowed")


def new_session(body: bytes, wanted: dict[str, Any]) -> Session | None:
    """The session moto created, from its AssumeRole answer and its own record of it."""
    key = re.search(r"<AccessKeyId>([^<]+)</AccessKeyId>", body.decode("utf-8", "replace"))
    if not key:
        return None
    token, expires = moto_adapter.assumed_session(key.group(1)) or NO_SESSION
    policies: list[str] = [wanted["policy"]] if wanted["policy"] else []
    policies += [document for document in map(moto_adapter.managed_policy,
                                              wanted["policy_arns"]) if document is not None]
    scoped = bool(wanted["policy"] or wanted["policy_arns"])
    return Session(access_key_id=key.group(1), role_arn=wanted["role_arn"],
                   session_name=wanted["name"], tags=wanted["tags"],
                   transitive_keys=wanted["transitive"],
                   session_policies=tuple(policies) if scoped else None, expires=expires,
                   token=token)
