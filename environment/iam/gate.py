"""The WSGI middleware that puts IAM in front of moto.

Requests signed with the administrator's keys (or any key the kit did not
issue) pass straight through, as on plain moto. Requests signed with
credentials from an AssumeRole call, or with an IAM user's access key, are
evaluated against that principal's policies first; a denial never reaches
moto. Every evaluated call and every AssumeRole is written to an audit trail
(CloudTrail, in spirit) served at ``/_lab/audit``.
"""

from __future__ import annotations

import io
import re
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any
from urllib.parse import parse_qs

from .calls import Call, members, needs_body, parse_call, signature
from .policy import Decision, Request, evaluate, trust_allows
from .principals import ACCOUNT, Principal, Session, Sessions, expired, iam_backend, resolve
from .requests import authorizations
from .responses import error_response, json_response

AUDIT_PATH = "/_lab/audit"
WSGIApp = Callable[[dict[str, Any], Callable], Iterable[bytes]]


def hash_key(region: str, table: str, index: str | None) -> str | None:
    """The partition key attribute of a table or index, read from moto's DynamoDB backend."""
    from moto.dynamodb.models import dynamodb_backends

    found = dynamodb_backends[ACCOUNT][region].tables.get(table)
    if found is None:
        return None
    if index:
        for candidate in found.indexes + found.global_indexes:
            if candidate.name == index:
                return next((k["AttributeName"] for k in candidate.schema
                             if k["KeyType"] == "HASH"), None)
        return None
    return found.hash_key_attr or None


class Audit:
    """The last few thousand decisions, numbered so a reader can ask for what is new."""

    def __init__(self, size: int = 5000) -> None:
        self._events: deque[dict[str, Any]] = deque(maxlen=size)
        self._lock = threading.Lock()
        self._seq = 0

    def add(self, **event: Any) -> None:
        with self._lock:
            self._seq += 1
            self._events.append({"seq": self._seq, "time": time.time(), **event})

    def query(self, since: int = 0, action: str | None = None,
              decision: str | None = None) -> list[dict[str, Any]]:
        with self._lock:
            events = list(self._events)
        return [e for e in events if e["seq"] > since
                and (action is None or e["action"].lower() == action.lower())
                and (decision is None or e["decision"] == decision)]

    @property
    def last(self) -> int:
        return self._seq

    def clear(self) -> None:
        with self._lock:
            self._events.clear()


def read_body(environ: dict[str, Any]) -> bytes:
    """Read the request body once and put it back for moto."""
    length = environ.get("CONTENT_LENGTH")
    stream = environ["wsgi.input"]
    body = stream.read(int(length)) if length else (
        stream.read() if environ.get("wsgi.input_terminated") else b"")
    environ["wsgi.input"] = io.BytesIO(body)
    environ["CONTENT_LENGTH"] = str(len(body))
    return body


class IamGate:
    def __init__(self, app: WSGIApp, admin_keys: frozenset[str] = frozenset({"test"})) -> None:
        self.app = app
        self.admin_keys = admin_keys
        self.sessions = Sessions()
        self.audit = Audit()

    def __call__(self, environ: dict[str, Any], start_response: Callable) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path == AUDIT_PATH:
            return self._serve_audit(environ, start_response)
        if path.startswith("/moto-api/reset"):
            self.sessions.clear()
            self.audit.clear()
        sig = signature(environ)
        if sig is None:
            return self.app(environ, start_response)  # unsigned: Cognito sign-in, JWKS, moto-api
        principal = resolve(sig.access_key_id, self.sessions, self.admin_keys)
        if principal.is_admin and sig.prefix != "sts":
            return self.app(environ, start_response)
        body = read_body(environ) if needs_body(sig) else b""
        try:
            call = parse_call(environ, body, sig)
        except ValueError:
            return self.app(environ, start_response)  # malformed: let moto answer as AWS would
        if call.service == "sts" and call.operation == "AssumeRole":
            return self._assume_role(call, principal, environ, start_response)
        if principal.is_admin:
            return self.app(environ, start_response)
        if principal.is_invalid or expired(principal):
            problem = "invalid" if principal.is_invalid else "expired"
            message = ("The security token included in the request is invalid (issued before "
                       "the last reset?)" if principal.is_invalid else
                       "The security token included in the request is expired")
            self.audit.add(principal=principal.arn, action=call.action, resource="*",
                           decision="deny", reason=message)
            return error_response(call, start_response, message, problem)
        who = principal.context()
        for question in authorizations(call, hash_key):
            request = Request(question.action, question.resource, {**who, **question.context})
            decision = evaluate(request, principal.identity_policies, principal.session_policies)
            if not decision.allowed:
                return self._deny(call, principal, request, decision, start_response)
            self._record(principal, request, decision)
        return self.app(environ, start_response)

    # --- denials and the audit trail ----------------------------------------------------------

    def _record(self, principal: Principal, request: Request, decision: Decision,
                **extra: Any) -> None:
        leading = request.context.get("dynamodb:LeadingKeys")
        self.audit.add(principal=principal.arn, action=request.action, resource=request.resource,
                       decision="allow" if decision.allowed else "deny", reason=decision.reason,
                       tenant=principal.tags.get("TenantID"),
                       leading_keys=list(leading) if leading else None, **extra)

    def _deny(self, call: Call, principal: Principal, request: Request, decision: Decision,
              start_response: Callable) -> Iterable[bytes]:
        self._record(principal, request, decision)
        message = (f"User: {principal.arn} is not authorized to perform: {request.action} "
                   f"on resource: {request.resource} {decision.reason}")
        return error_response(call, start_response, message)

    def _serve_audit(self, environ: dict[str, Any], start_response: Callable) -> Iterable[bytes]:
        query = {k: v[0] for k, v in parse_qs(environ.get("QUERY_STRING", "")).items()}
        if query.get("events") == "0":  # only the number of the latest event
            return json_response(start_response, {"last": self.audit.last, "events": []})
        events = self.audit.query(int(query.get("since", 0) or 0), query.get("action"),
                                  query.get("decision"))
        return json_response(start_response, {"last": self.audit.last, "events": events})

    # --- AssumeRole ---------------------------------------------------------------------------

    def _assume_role(self, call: Call, caller: Principal, environ: dict[str, Any],
                     start_response: Callable) -> Iterable[bytes]:
        p = call.params
        role_arn = p.get("RoleArn", "")
        tags = {t.get("Key", ""): t.get("Value", "") for t in members(p, "Tags")}
        tags = {**tags, **caller.transitive_tags}  # transitive tags cannot be overridden
        transitive = frozenset(members(p, "TransitiveTagKeys")) | frozenset(caller.transitive_tags)
        context = {**caller.context(), "sts:RoleSessionName": p.get("RoleSessionName", ""),
                   "aws:TagKeys": list(tags), "sts:TransitiveTagKeys": list(transitive),
                   **{f"aws:RequestTag/{k}": v for k, v in tags.items()}}
        decision = self._may_assume(caller, role_arn, context, bool(tags))
        request = Request("sts:AssumeRole", role_arn, context)
        if not decision.allowed:
            return self._deny(call, caller, request, decision, start_response)
        captured: dict[str, Any] = {}

        def capture(status: str, headers: list, exc_info: Any = None) -> Callable:
            captured["status"], captured["headers"] = status, headers
            return lambda data: None

        body = b"".join(self.app(environ, capture))
        start_response(captured["status"], captured["headers"])
        if captured["status"].startswith("200"):
            key = self._remember(body, p, role_arn, tags, transitive, caller)
            self._record(caller, request, decision, session=p.get("RoleSessionName"),
                         session_tags=tags, access_key_id=key)
        return [body]

    def _may_assume(self, caller: Principal, role_arn: str, context: dict[str, Any],
                    tagging: bool) -> Decision:
        if not caller.is_admin:
            own = evaluate(Request("sts:AssumeRole", role_arn, context),
                           caller.identity_policies, caller.session_policies)
            if not own.allowed:
                return own
        try:
            role = iam_backend().get_role_by_arn(role_arn)
        except Exception:
            return Decision(False, "because the role does not exist")
        for action in ("sts:AssumeRole", "sts:TagSession") if tagging else ("sts:AssumeRole",):
            decision = trust_allows(role.assume_role_policy_document,
                                    Request(action, role_arn, context), caller.arn,
                                    caller.account, caller.role_arn)
            if not decision.allowed:
                return decision
        return Decision(True, "allowed")

    def _remember(self, body: bytes, p: dict[str, Any], role_arn: str, tags: dict[str, str],
                  transitive: frozenset[str], caller: Principal) -> str | None:
        """Record the new session; return its access key id (CloudTrail logs it too)."""
        text = body.decode("utf-8", "replace")
        key = re.search(r"<AccessKeyId>([^<]+)</AccessKeyId>", text)
        expiration = re.search(r"<Expiration>([^<]+)</Expiration>", text)
        if not key:
            return None
        expires = time.time() + int(p.get("DurationSeconds") or 3600)
        if expiration:
            try:
                expires = datetime.fromisoformat(expiration.group(1).replace("Z", "+00:00")
                                                 ).timestamp()
            except ValueError:
                pass
        policies: list[str] = [p["Policy"]] if p.get("Policy") else []
        iam = iam_backend()
        for arn in members(p, "PolicyArns"):
            arn = arn.get("arn") if isinstance(arn, dict) else arn
            try:
                policy = iam.get_policy(arn)
                policies.append(next(v.document for v in policy.versions if v.is_default))
            except Exception:
                continue
        self.sessions.record(Session(
            access_key_id=key.group(1), role_arn=role_arn,
            session_name=p.get("RoleSessionName", ""), tags=tags, transitive_keys=transitive,
            session_policies=tuple(policies) if (p.get("Policy") or members(p, "PolicyArns"))
            else None, expires=expires, source_arn=caller.arn))
        return key.group(1)
