"""The token vending machine's check (exercise 2.2), judged by what the account saw.

Every claim is checked in the gate's audit trail, not on the learner's
objects: which AssumeRole issued the returned access key, with which role and
session tags, and how many AssumeRole calls each step caused. Expiry is tested
without waiting: ``vend_credentials`` takes a clock (``now=``), and the check
moves it to just before and within the refresh margin of the credentials'
own ``Expiration``.
"""

from __future__ import annotations

import dis
import inspect
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta, tzinfo
from functools import partial
from types import CodeType
from typing import Any

from environment.account.tenants import TENANTS
from environment.lab import Lab

from .foreign import foreign_id_token
from .forgery import forgeries
from .framework import Trial, short
from .policy_space import unknown_tenant

ALICE, ARTHUR, BOB = TENANTS[0].users[0], TENANTS[0].users[1], TENANTS[1].users[0]
CREDENTIAL_KEYS = ("AccessKeyId", "SecretAccessKey", "SessionToken", "Expiration")
# The margin may be anything from REFRESH_WITHIN to KEEP_BEYOND; the prose suggests 5 minutes.
KEEP_BEYOND = timedelta(minutes=15)
REFRESH_WITHIN = timedelta(minutes=2)


def takes_clock(fn: Callable) -> bool:
    """Whether ``fn`` accepts ``now=`` (or any keyword); unknown signatures get the benefit."""
    try:
        parameters = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return True
    return any(p.name == "now" or p.kind is p.VAR_KEYWORD for p in parameters)


def signature_of(fn: Callable) -> str:
    try:
        return f"{getattr(fn, '__name__', 'vend_credentials')}{inspect.signature(fn)}"
    except (TypeError, ValueError):
        return short(fn)


def expiration(creds: dict[str, Any]) -> datetime | None:
    value = creds.get("Expiration")
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    return None


def vend(t: Trial, vend_credentials: Callable, token: str, clock: bool,
         now: datetime | None = None) -> dict[str, Any]:
    """Call the learner's vending machine for a genuine token; the result must be credentials."""
    kwargs = {"now": now or datetime.now(UTC)} if clock else {}
    creds = t.call(vend_credentials, token, **kwargs,
                   hint="a genuine token must get credentials; now= is a timezone-aware "
                        "datetime in UTC, like the Expiration STS returns.")
    missing = [k for k in CREDENTIAL_KEYS if k not in creds] if isinstance(creds, dict) else None
    t.expect(missing == [] and expiration(creds) is not None,
             "STS credentials: a dict with " + ", ".join(CREDENTIAL_KEYS),
             short(creds) if missing is None else f"a dict without {', '.join(missing)}"
             if missing else f"Expiration {short(creds.get('Expiration'))}",
             hint="return the Credentials of the assume_role response, all four keys as they "
                  "came.", code_hint="return sts.assume_role(...)['Credentials']")
    return creds


def _issued(lab: Lab, access_key_id: str) -> dict[str, Any] | None:
    """The AssumeRole event that issued this access key, from the gate's audit trail."""
    return next((e for e in lab.audit(action="sts:AssumeRole")
                 if e.get("access_key_id") == access_key_id and e["decision"] == "allow"), None)


def _tenant_tag(event: dict[str, Any]) -> str | None:
    """The session's TenantID tag; IAM matches tag keys whatever their case."""
    tags = event.get("session_tags") or {}
    return next((v for k, v in tags.items() if k.lower() == "tenantid"), None)


def _sts_calls(lab: Lab, since: int) -> int:
    return len(lab.audit(since=since, action="sts:AssumeRole"))


def _expect_session(t: Trial, lab: Lab, creds: dict[str, Any], tenant: str) -> None:
    event = _issued(lab, creds["AccessKeyId"])
    t.expect(event is not None, "credentials issued by AssumeRole in this environment",
             f"unknown access key {creds['AccessKeyId']}",
             hint="credentials cached from before a reset are void: re-run the cell that "
                  "defines vend_credentials (it empties the cache).")
    role = lab.role_arn("tenant-access")
    t.expect(event["resource"] == role, f"a session of {role}", event["resource"],
             hint="the tenant role is the one whose policy (2.1) limits a session to its tenant.",
             code_hint="sts.assume_role(RoleArn=TENANT_ROLE, ...)")
    t.expect(_tenant_tag(event) == tenant, f"a session tagged TenantID={tenant}",
             f"session tags {event.get('session_tags')}",
             hint="the tag is the tenant of the verified token, and each tenant has its own "
                  "credentials.", code_hint="Tags=[{'Key': 'TenantID', 'Value': claims["
                                            "'custom:tenant_id']}], and a cache keyed by tenant")


def check_vendor(lab: Lab, vend_credentials: Callable, t: Trial) -> None:
    with t.case("vend_credentials takes a clock (now=)"):
        t.expect(takes_clock(vend_credentials), "vend_credentials(id_token, now=None)",
                 signature_of(vend_credentials),
                 hint="time-dependent code takes its clock as an argument, so that expiry can "
                      "be tested without waiting an hour.",
                 code_hint="def vend_credentials(id_token, now=None): now = now or "
                           "datetime.now(UTC)")
    with t.case("credentials for alice"):
        mark = lab.audit_mark()
        first = vend(t, vend_credentials, lab.id_token(ALICE), True)
        _expect_session(t, lab, first, "tenant-a")
        t.expect(_sts_calls(lab, mark) <= 1, "at most one AssumeRole",
                 f"{_sts_calls(lab, mark)} AssumeRole calls")
    with t.case("a second user of tenant-a gets the cached credentials, without calling STS"):
        mark = lab.audit_mark()
        again = vend(t, vend_credentials, lab.id_token(ARTHUR), True)
        t.expect(again["AccessKeyId"] == first["AccessKeyId"] and not _sts_calls(lab, mark),
                 "tenant-a's cached credentials and no AssumeRole",
                 f"{_sts_calls(lab, mark)} AssumeRole call(s)",
                 hint="cache per tenant (not per token or user): STS calls are slow and "
                      "rate-limited, and every user of a tenant shares its credentials.")
    with t.case("credentials for bob"):
        bob = vend(t, vend_credentials, lab.id_token(BOB), True)
        _expect_session(t, lab, bob, "tenant-b")
    expires = expiration(first) or datetime.now(UTC)
    with t.case("keeps credentials while more than the margin remains"):
        mark = lab.audit_mark()
        kept = vend(t, vend_credentials, lab.id_token(ALICE), True, expires - KEEP_BEYOND)
        t.expect(kept["AccessKeyId"] == first["AccessKeyId"] and not _sts_calls(lab, mark),
                 f"the cached credentials, {KEEP_BEYOND} before their Expiration",
                 f"{_sts_calls(lab, mark)} AssumeRole call(s)",
                 hint="a margin of five minutes is plenty; credentials with a quarter of an hour "
                      "left are still good.")
    with t.case("renews credentials that expire within the margin"):
        soon = expires - REFRESH_WITHIN
        mark = lab.audit_mark()
        renewed = vend(t, vend_credentials, lab.id_token(ALICE), True, soon)
        t.expect(renewed["AccessKeyId"] != first["AccessKeyId"] and _sts_calls(lab, mark) == 1,
                 f"new credentials (one AssumeRole) when {REFRESH_WITHIN} are left",
                 f"{'the same' if renewed['AccessKeyId'] == first['AccessKeyId'] else 'new'} "
                 f"credentials, {_sts_calls(lab, mark)} AssumeRole call(s)",
                 hint="renew a few minutes before Expiration, by the clock you are given (now=), "
                      "not the wall clock: a request that starts with a minute left fails "
                      "halfway.", code_hint="if cached['Expiration'] - now > timedelta(minutes=5)"
                                            ": return cached")
        _expect_session(t, lab, renewed, "tenant-a")
        mark = lab.audit_mark()
        later = (expiration(renewed) or soon) - KEEP_BEYOND
        kept = vend(t, vend_credentials, lab.id_token(ARTHUR), True, later)
        t.expect(kept["AccessKeyId"] == renewed["AccessKeyId"] and not _sts_calls(lab, mark),
                 "then the renewed credentials from the cache", "other credentials",
                 hint="store the renewed credentials in the cache.")
    _default_clock(lab, vend_credentials, t)
    _refuses_forgeries(lab, vend_credentials, t)


def _frozen_default(fn: Callable) -> Any:
    """The datetime a ``now`` parameter defaults to (evaluated once, at def), or None."""
    try:
        parameter = inspect.signature(fn).parameters.get("now")
    except (TypeError, ValueError):
        return None
    default = getattr(parameter, "default", None)
    return default if isinstance(default, datetime) else None


@contextmanager
def _learner_clock_ahead(fn: Callable, seconds: float) -> Iterator[bool]:
    """Within the block, the clocks the learner's function reads (``datetime`` as its module
    imported it, and ``time.time``) live ``seconds`` ahead; yields False when the function
    reads the time some other way, which the check then cannot move."""
    fn = inspect.unwrap(fn)
    names = getattr(fn, "__globals__", None)
    code = getattr(fn, "__code__", None)
    reads_datetime = isinstance(names, dict) and names.get("datetime") is datetime \
        and _loads_global(code, "datetime")
    reads_time = isinstance(names, dict) and names.get("time") is time \
        and _loads_global(code, "time")
    if not (reads_datetime or reads_time):
        yield False
        return

    class Later(datetime):
        @classmethod
        def now(cls, tz: tzinfo | None = None) -> datetime:
            return datetime.now(tz) + timedelta(seconds=seconds)

        @classmethod
        def utcnow(cls) -> datetime:
            return datetime.now(UTC).replace(tzinfo=None) + timedelta(seconds=seconds)

    real_time = time.time
    if reads_datetime:
        names["datetime"] = Later
    time.time = lambda: real_time() + seconds
    try:
        yield True
    finally:
        time.time = real_time
        if reads_datetime and names.get("datetime") is Later:
            names["datetime"] = datetime


def _loads_global(code: Any, name: str) -> bool:
    """Whether this code (or code nested in it: lambdas, inner functions) reads a global."""
    if not isinstance(code, CodeType):
        return False
    return any(i.opname == "LOAD_GLOBAL" and i.argval == name for i in dis.get_instructions(code)
               ) or any(_loads_global(const, name) for const in code.co_consts)


def _default_clock(lab: Lab, vend_credentials: Callable, t: Trial) -> None:
    """Called without now=, the machine reads the current time, every time, timezone-aware."""
    with t.case("without now=, it reads the current time (aware, every call)"):
        frozen = _frozen_default(vend_credentials)
        t.expect(frozen is None, "now=None, and the current time read inside the function",
                 f"now defaults to {frozen!r}",
                 hint="a default argument is evaluated once, when def runs: the clock then "
                      "stands still, and in production the cache never expires.",
                 code_hint="def vend_credentials(id_token, now=None): now = now or "
                           "datetime.now(UTC)")
        hint = ("without now=, use the current time as a timezone-aware datetime in UTC: "
                "Expiration is aware, and comparing it with a naive datetime (utcnow()) "
                "raises TypeError.")
        code_hint = "now = now or datetime.now(UTC)"
        first = t.call(vend_credentials, lab.id_token(ALICE), hint=hint, code_hint=code_hint)
        second = t.call(vend_credentials, lab.id_token(ARTHUR), hint=hint, code_hint=code_hint)
        for creds in (first, second):
            t.expect(isinstance(creds, dict) and expiration(creds) is not None,
                     "STS credentials", short(creds), hint=hint)
        expires = expiration(second) or datetime.now(UTC)
        ahead = (expires - datetime.now(UTC) - REFRESH_WITHIN).total_seconds()
        token = lab.id_token(ALICE)
        mark = lab.audit_mark()
        with _learner_clock_ahead(vend_credentials, ahead) as moved:
            if moved:
                later = t.call(vend_credentials, token, hint=hint, code_hint=code_hint)
        if not moved:
            return  # it reads the time through another name: the frozen default was looked at
        renewed = isinstance(later, dict) and later.get("AccessKeyId") != second["AccessKeyId"]
        t.expect(renewed and _sts_calls(lab, mark) == 1,
                 f"new credentials (one AssumeRole) when the current time is {REFRESH_WITHIN} "
                 "before their Expiration", f"{'new' if renewed else 'the same'} credentials, "
                 f"{_sts_calls(lab, mark)} AssumeRole call(s)",
                 hint="without now=, the clock must be read on every call: a time taken once "
                      "(a default argument, a module constant) never moves, and the cached "
                      "credentials are used after they expire.",
                 code_hint="def vend_credentials(id_token, now=None): now = now or "
                           "datetime.now(UTC)  # inside the function")


def _refuses_forgeries(lab: Lab, vend_credentials: Callable, t: Trial) -> None:
    """Forged tokens get nothing and cause no STS call, even for a tenant not cached yet."""
    fresh = unknown_tenant(f"{lab.identity.pool_id}/{lab.audit_mark()}",
                           [tenant.id for tenant in TENANTS])
    forged = forgeries(lab.id_token(ALICE), lab.access_token(ALICE), fresh,
                       lab.settings.embedded)
    cases = [("a genuine ID token of another user pool, claiming tenant-a",
              foreign_id_token(lab) if lab.settings.embedded else None)]
    # A 'Bearer ' prefix is the caller's business, not a forgery: stripping it is no flaw here.
    # Case names must not change between runs (hints count repeated failures by name).
    cases += [(f.name.replace(fresh, "a tenant not cached yet"), f.token) for f in forged
              if "Bearer" not in f.name]
    for name, token in cases:
        if token is None:
            t.skip(name, "needs the embedded emulator")
            continue
        with t.case(f"refuses {name}"):
            mark = lab.audit_mark()
            t.rejects(partial(vend_credentials, now=datetime.now(UTC)), token, accept=(Exception,),
                      hint="verify the token first and let its error propagate: a token that "
                           "does not verify gets no credentials, cached or new.",
                      code_hint="make tenant = verify_id_token(lab.identity, id_token)"
                                "['custom:tenant_id'] the first line, with no try/except "
                                "around it and no claim read before it.")
        with t.case(f"no call to STS for {name}"):
            calls = _sts_calls(lab, mark)
            t.expect(not calls, "no AssumeRole", f"{calls} AssumeRole call(s), for a tenant "
                     f"taken from a token that does not verify",
                     hint="verify before anything else: an unverified token must not even "
                          "reach STS.")
