"""The IAM gate: authentication in front of moto, authorisation inside it.

The WSGI half (this class) reads the request's SigV4 signature, finds the
principal behind its access key (the kit's administrator, an AssumeRole
session or an IAM user's key), and verifies the signature, the session token
and the expiry. Whatever it cannot classify is refused with the service's own
error. The other half (``hook``) runs inside moto's dispatch and decides on the
operation, resources and context moto resolved (``decide`` below). Every
evaluated decision and every AssumeRole goes to an audit trail that only the
administrator may read at ``/_lab/audit``; ``/moto-api/*`` answers the
administrator only, as it can wipe or dump the whole account.
"""

from __future__ import annotations

import hmac
import io
import re
import time
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import parse_qs

from ..moto_adapter import MotoRequest, hash_key, kms_key_arn
from .assume import assume_request, may_assume, new_session, session_request
from .audit import Audit
from .calls import Call, Protocol, from_moto, protocol_of
from .cognito import check_public
from .dynamodb import query_keys
from .failures import explain
from .hook import CURRENT, Denial, Exchange, Refusal, install
from .policy import Decision, Request, evaluate
from .principals import ACCOUNT, ANONYMOUS, Principal, Sessions, expired, resolve
from .requests import authorizations
from .responses import error_response, json_response
from .s3 import check_upload
from .signing import AuthError, Signed, read_signature, verify

AUDIT_PATH = "/_lab/audit"
KIT_PATHS = ("/_lab/", "/moto-api", "/favicon.ico")
WSGIApp = Callable[[dict[str, Any], Callable], Iterable[bytes]]
Clock = Callable[[], float]

# What AWS serves without a signature (Cognito's user-token and identity-pool APIs).
PUBLIC_OPERATIONS = {
    "cognito-idp": frozenset({
        "InitiateAuth", "RespondToAuthChallenge", "SignUp", "ConfirmSignUp", "ForgotPassword",
        "ConfirmForgotPassword", "ResendConfirmationCode", "GetUser", "GlobalSignOut",
        "ChangePassword", "RevokeToken", "UpdateUserAttributes", "DeleteUser",
        "DeleteUserAttributes", "VerifyUserAttribute", "GetUserAttributeVerificationCode",
        "SetUserMFAPreference", "SetUserSettings", "AssociateSoftwareToken",
        "VerifySoftwareToken", "ConfirmDevice", "ForgetDevice", "GetDevice", "ListDevices",
        "UpdateDeviceStatus"}),
    "cognito-identity": frozenset({"GetId", "GetOpenIdToken", "GetCredentialsForIdentity",
                                   "UnlinkIdentity"}),
}
# moto issues these credentials without checking the identity token or SAML assertion.
UNVERIFIABLE = {"sts:AssumeRoleWithWebIdentity", "sts:AssumeRoleWithSAML"}
SCOPE_SERVICE = re.compile(r"Credential=[^/]*/[^/]*/[^/]*/([^/,\s]+)")


def read_body(environ: dict[str, Any]) -> bytes:
    """Read the request body once and put it back for moto."""
    length = environ.get("CONTENT_LENGTH") or ""
    stream = environ["wsgi.input"]
    if length:
        if not length.isdigit():
            raise AuthError("malformed", f"Content-Length {length!r} is not a number")
        body = stream.read(int(length))
    else:
        body = stream.read() if environ.get("wsgi.input_terminated") else b""
    environ["wsgi.input"] = io.BytesIO(body)
    environ["CONTENT_LENGTH"] = str(len(body))
    return body


def guess_service(environ: dict[str, Any]) -> tuple[str, Protocol]:
    """(service, protocol) for an error answered before moto has read the request."""
    scope = SCOPE_SERVICE.search(environ.get("HTTP_AUTHORIZATION", "")) or SCOPE_SERVICE.search(
        "Credential=" + parse_qs(environ.get("QUERY_STRING", "")).get("X-Amz-Credential",
                                                                       [""])[0])
    service = scope.group(1) if scope else ""
    service = {"monitoring": "cloudwatch"}.get(service, service)
    headers = {"X-Amz-Target": environ.get("HTTP_X_AMZ_TARGET", "")}
    path = environ.get("PATH_INFO", "")
    if not service:
        form = "x-www-form-urlencoded" in environ.get("CONTENT_TYPE", "")
        service = "" if headers["X-Amz-Target"] or form or "Action=" in environ.get(
            "QUERY_STRING", "") else "s3"
    return service, protocol_of(service, headers, path)


class IamGate:
    def __init__(self, app: WSGIApp, admin_key: str = "test", admin_secret: str = "test",
                 clock: Clock = time.time) -> None:
        install()
        self.app = app
        self.admin_key, self.admin_secret = admin_key, admin_secret
        self.clock = clock
        self.sessions = Sessions()
        self.audit = Audit()

    # --- the WSGI half: authentication --------------------------------------------------------

    def __call__(self, environ: dict[str, Any], start_response: Callable) -> Iterable[bytes]:
        try:
            return self._handle(environ, start_response)
        except AuthError as error:
            return self._refuse(environ, start_response, Denial(error.problem, error.message))
        except Exception as error:  # never a 500, never a pass
            return self._refuse(environ, start_response, Denial("denied",
                                                                explain(error, environ)))

    def _handle(self, environ: dict[str, Any], start_response: Callable) -> Iterable[bytes]:
        body = read_body(environ)
        signed = read_signature(environ)
        principal = self.authenticate(environ, body, signed)
        path = environ.get("PATH_INFO", "")
        if path.startswith(KIT_PATHS):
            return self._kit(path, principal, environ, start_response)
        exchange = Exchange(principal, signed, self.decide)
        token = CURRENT.set(exchange)
        captured: dict[str, Any] = {}

        def capture(status: str, headers: list, exc_info: Any = None) -> Callable:
            captured["status"], captured["headers"] = status, headers
            return lambda data: None

        try:
            result = self.app(environ, capture)
        finally:
            CURRENT.reset(token)
        if exchange.denial is None and not principal.is_admin and not exchange.decided:
            exchange.denial = Denial("denied", "the request did not reach the IAM gate's "
                                               "decision inside the emulator, so it is refused")
        if exchange.denial is not None:
            getattr(result, "close", lambda: None)()
            if principal.kind == "anonymous":
                # moto routes unsigned calls by guesswork (S3 by default): answer in the
                # protocol the caller spoke instead.
                exchange.denial.service, exchange.denial.protocol = "", None
            return self._refuse(environ, start_response, exchange.denial)

        if exchange.assumed is not None and captured["status"].startswith("200"):
            answer = b"".join(result)
            getattr(result, "close", lambda: None)()
            self._remember(answer, exchange.assumed, principal)
            result = [answer]
        start_response(captured["status"], captured["headers"])
        return result

    def authenticate(self, environ: dict[str, Any], body: bytes,
                     signed: Signed | None) -> Principal:
        """The verified principal of a request; AuthError when the proof does not hold."""
        if signed is None:
            return ANONYMOUS
        principal = resolve(signed.access_key_id, self.sessions, self.admin_key,
                            self.admin_secret)
        if principal.is_invalid or principal.secret is None:
            raise AuthError("invalid", "The security token included in the request is invalid.")
        now = self.clock()
        verify(environ, body, signed, principal.secret, now)
        if principal.kind == "session":
            if not signed.token or not hmac.compare_digest(signed.token, principal.token or ""):
                raise AuthError("invalid", "The security token included in the request is "
                                           "invalid.")
        elif signed.token:
            raise AuthError("invalid", "The security token included in the request is invalid.")
        if expired(principal, now):
            self.audit.add(principal=principal.arn, action="*", resource="*", decision="deny",
                           reason="The security token included in the request is expired")
            raise AuthError("expired", "The security token included in the request is expired")
        return principal

    def _refuse(self, environ: dict[str, Any], start_response: Callable,
                denial: Denial) -> Iterable[bytes]:
        service, protocol = guess_service(environ)
        return error_response(denial.service or service, denial.protocol or protocol,
                              start_response, denial.message, denial.problem)

    def _kit(self, path: str, principal: Principal, environ: dict[str, Any],
             start_response: Callable) -> Iterable[bytes]:
        """The kit's own endpoints: the administrator's, signed with the administrator's key."""
        if not principal.is_admin:
            return self._refuse(environ, start_response, Denial(
                "denied", "the lab kit's own endpoints answer only the administrator",
                "s3", "rest-xml"))
        if path == AUDIT_PATH:
            return self._serve_audit(environ, start_response)
        if path.startswith("/moto-api/reset"):
            self.sessions.clear()
            self.audit.clear()
        return self.app(environ, start_response)

    def _serve_audit(self, environ: dict[str, Any], start_response: Callable) -> Iterable[bytes]:
        query = {k: v[0] for k, v in parse_qs(environ.get("QUERY_STRING", "")).items()}
        if query.get("events") == "0":  # only the number of the latest event
            return json_response(start_response, {"last": self.audit.last, "events": []})
        since = int(query.pop("since", 0) or 0)
        events = self.audit.query(since, **query)
        return json_response(start_response, {"last": self.audit.last, "events": events})

    # --- the half inside moto: authorisation ---------------------------------------------------

    def decide(self, request: MotoRequest, resource: str, exchange: Exchange) -> None:
        """Allow what moto is about to execute, or raise Refusal. Called by ``hook``."""
        principal = exchange.principal
        if principal.is_admin and request.service != "sts":
            return
        call = from_moto(request, resource)
        if not principal.is_admin:
            self._consistent(request, call, exchange.signed)
        if call.operation in PUBLIC_OPERATIONS.get(call.service, ()):
            if call.service == "cognito-idp":  # but Cognito checks them itself
                check_public(call.operation, call.params)
            return  # AWS does not ask IAM about these, signed or not
        if principal.kind == "anonymous":
            raise Refusal("unsigned", "Request is missing Authentication Token" if
                          call.service != "s3" else "Access Denied")
        if call.action in UNVERIFIABLE:
            raise Refusal("denied", f"{call.action} is not supported by the lab's IAM gate: the "
                                    "emulator does not verify identity tokens")
        if call.action == "sts:AssumeRole":
            exchange.assumed = self._assume_role(
                call, principal, exchange.signed.access_key_id if exchange.signed else None)
            return
        if principal.is_admin:
            return
        if call.service == "s3":
            check_upload(call)
        who = principal.context()
        key = exchange.signed.access_key_id if exchange.signed else None
        for question in authorizations(call, hash_key, query_keys, kms_key_arn):
            request = Request(question.action, question.resource, {**who, **question.context})
            decision = evaluate(request, principal.identity_policies,
                                principal.session_policies)
            self._record(principal, request, decision, key)
            if not decision.allowed:
                raise Refusal("denied", self._message(principal, request, decision))

    @staticmethod
    def _consistent(request: MotoRequest, call: Call, signed: Signed | None) -> None:
        """What the request states in two places must agree, as AWS insists it does."""
        names = request.named_actions
        if call.service != "s3" and (len(names) > 1 or (names and call.operation not in names)):
            raise Refusal("denied", "the request names more than one operation: "
                                    f"{sorted(names | {call.operation})}")
        if request.account != ACCOUNT:
            raise Refusal("denied", "the request addresses another account")
        if signed is None:
            return
        if signed.region != call.region:
            raise Refusal("signature", f"Credential should be scoped to a valid region: the "
                                       f"request goes to {call.region}, the credential scope "
                                       f"says {signed.region}")
        expected = request.signing_name
        if signed.service != expected:
            raise Refusal("signature", f"Credential should be scoped to correct service: "
                                       f"'{expected}'.")

    def _assume_role(self, call: Call, caller: Principal, key: str | None) -> dict[str, Any]:
        wanted = session_request(call.params, caller)
        request = assume_request(wanted, caller)
        decision = may_assume(caller, request, bool(wanted["tags"]))
        if not decision.allowed:
            self._record(caller, request, decision, key)
            raise Refusal("denied", self._message(caller, request, decision))
        wanted["request"], wanted["decision"], wanted["caller_key"] = request, decision, key
        return wanted

    def _remember(self, answer: bytes, wanted: dict[str, Any], caller: Principal) -> None:
        session = new_session(answer, wanted)
        if session is None:
            return
        self.sessions.record(session)
        self._record(caller, wanted["request"], wanted["decision"], wanted["caller_key"],
                     session=session.session_name, session_tags=session.tags,
                     access_key_id=session.access_key_id)

    # --- the audit trail -----------------------------------------------------------------------

    @staticmethod
    def _message(principal: Principal, request: Request, decision: Decision) -> str:
        return (f"User: {principal.arn} is not authorized to perform: {request.action} "
                f"on resource: {request.resource} {decision.reason}")

    def _record(self, principal: Principal, request: Request, decision: Decision,
                key: str | None = None, **extra: Any) -> None:
        """One audit event; its decision record is computed only if someone reads it."""
        leading = request.context.get("dynamodb:LeadingKeys")
        self.audit.add(principal=principal.arn, principal_key=key,
                       principal_tags=dict(principal.tags), action=request.action,
                       resource=request.resource,
                       decision="allow" if decision.allowed else "deny", reason=decision.reason,
                       reason_type=decision.reason_type, tenant=principal.tags.get("TenantID"),
                       leading_keys=list(leading) if leading else None, detail=decision, **extra)
