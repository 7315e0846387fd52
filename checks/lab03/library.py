"""Check 3.1: one tenant-context library, used by all three services.

The learner's one resolver is served behind the order, product and fulfilment services (each
with a thin recording wrapper of the check's own). The three must resolve every tenant's token
to the same, whole context; a lure in the headers (any spelling of a tenant or user header)
changes nothing on any route; and every service, the fulfilment service the order service calls
"from inside" included, answers 401 on every route to a request that brings no token, only an
``x-tenant-id``, a token in a cookie, or any token lab 1 refuses (forged, expired 50 minutes
ago, keyed by the token's own header). A context remembered per token must not outlive its
``exp``. "Internal" is no proof of identity: everything on the network can reach it.
"""

from __future__ import annotations

from typing import Any

from environment.account.tenants import TENANTS
from environment.app.context import TenantContext

from ..clock import can_move, clock_ahead
from ..foreign import foreign_id_token
from ..forgery import (
    attacker_jwks,
    cache_probe_tokens,
    forgeries,
    key_in_header_forgeries,
    recently_expired,
    segments,
    served_jwks,
)
from ..framework import Trial, exercise, short
from ..lab01.door import HEADER_LURE
from ..scratch import fresh_table
from .services import CREATE, SERVICES, Served, bearer, served

ONE_LIBRARY = ("one function for every service: the context comes from the verified token, the "
               "same way everywhere; no service has its own rules.")
NO_TOKEN_NO_TENANT = ("a request without a token gets no tenant, whoever sends it: an "
                      "x-tenant-id header is something the caller typed, and 'internal' "
                      "services are reachable by anything on the network.")
# The (user, tenant) pairs whose tokens the services must agree on: every tenant, and second
# users where a hard-coded first user would pass.
USERS = [(TENANTS[0].users[0], TENANTS[0]), (TENANTS[1].users[1], TENANTS[1]),
         (TENANTS[2].users[0], TENANTS[2]), (TENANTS[3].users[1], TENANTS[3])]
# Every spelling of "the caller says who it is" a service might be tempted to read: lab 1's, the
# names gateways and proxies use, and a browser's User-Agent (a door that opens only for
# callers that do not look like a test is still a door).
IDENTITY_LURE = {**HEADER_LURE, "X-Act-As-Tenant": "tenant-b", "X-On-Behalf-Of": "tenant-b",
                 "X-Tenant-ID-Override": "tenant-b", "X-Forwarded-Tenant": "tenant-b",
                 "X-Forwarded-User": "mallory", "X-Remote-User": "mallory",
                 "X-Auth-Request-User": "mallory", "X-Forwarded-Email": "mallory@example.com",
                 "X-Amzn-Oidc-Identity": "mallory", "Remote-User": "mallory",
                 "User-Agent": "Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0"}
INTERNAL_LURE = {**IDENTITY_LURE, "X-Internal-Call": "true", "X-Forwarded-For": "127.0.0.1",
                 "X-Calling-Service": "order-service", "X-Amzn-Trace-Id": "Root=1-internal"}
# Every route of every service reaches the resolver (it runs before routing): a rule that holds
# for one method, one collection or the list route only is no rule.
ROUTES = (("POST", None), ("GET", None), ("GET", "/item-1"), ("PUT", "/item-1"),
          ("DELETE", "/item-1"))


def agree(served_: Served, t: Trial, want: TenantContext, routes: bool = False,
          **kwargs: Any) -> None:
    """All three services serve the request as ``want``, with the whole context (and with
    ``routes``, every route of theirs resolves ``want`` too)."""
    for service in SERVICES:
        reply, ctx = served_.create(service, **kwargs)
        t.expect(reply.status < 300, f"the {service} service serves it as {want.tenant_id}",
                 f"the {service} service answered {reply}",
                 hint="a genuine token of the pool must pass, in every service.")
        t.expect(ctx == want, f"the {service} service resolves {want}",
                 f"the {service} service resolved {short(ctx)}", hint=ONE_LIBRARY)
        for method, item in ROUTES[1:] if routes else ():
            path = CREATE[service][0] + (item or "")
            _, ctx = served_.ask(service, method, path, **kwargs)
            t.expect(ctx == want, f"{method} {path} of the {service} service resolves {want}",
                     f"it resolved {short(ctx)}", hint=ONE_LIBRARY)


def refused(served_: Served, t: Trial, requests_: list[dict[str, Any]], hint: str,
            services: tuple[str, ...] = SERVICES, routes: tuple = ROUTES[:2]) -> None:
    """Every service refuses every request on every route given: the resolver raised (401,
    or 501 from a NotImplementedError once the function has served genuine requests)."""
    for service in services:
        for kwargs in requests_:
            for method, item in routes:  # a rule that holds for writes only is no rule
                path = CREATE[service][0] + (item or "")
                reply, ctx = (served_.create(service, **kwargs) if method == "POST" else
                              served_.ask(service, method, path, **kwargs))
                t.expect(reply.status in (401, 501) and ctx is None,
                         f"401 Unauthorized from the {service} service",
                         f"{reply} (resolved {short(ctx)})", hint=hint,
                         sent=f"{method} {path} with " + (", ".join(
                             f"{k}={short(v, 60)}" for k, v in kwargs.get("headers", {}).items())
                             or "no headers"))


@exercise(
    "3.1", "one tenant-context library for three services", ("tenant_from_request",),
    hint="package lab 1's middleware once: the token from 'Authorization: Bearer', verified "
         "with the pool's keys, issuer and audience, and the context built from its claims; "
         "nothing in the request fills in what the token does not say, in any service.",
    code_hint="def tenant_from_request(request): scheme, _, token = request.headers.get("
              "'Authorization', '').partition(' '); if scheme.lower() != 'bearer' or not "
              "token: raise PermissionError(...); return tenant_context_from_claims("
              "verify_id_token(lab.identity, token.strip()))",
)
def check_one_library(tenant_from_request, t: Trial) -> None:
    lab = t.lab
    table = fresh_table(lab, "check-lab3-services")
    with served(t, table.table, {name: tenant_from_request for name in SERVICES}) as services:
        for user, tenant in USERS:
            with t.case(f"the three services agree on {user}'s token"):
                agree(services, t, TenantContext(tenant.id, tenant.tier, user),
                      headers=bearer(lab.id_token(user)))
        alice = TenantContext(TENANTS[0].id, TENANTS[0].tier, TENANTS[0].users[0])
        token = lab.id_token(alice.user)
        with t.case("a tenant-a token with X-Tenant-Id: tenant-b, in all three services"):
            agree(services, t, alice, headers={**bearer(token), "X-Tenant-Id": "tenant-b"})
        with t.case("a basic tenant's token with X-Tenant-Tier: premium and X-User, in all "
                    "three services"):
            agree(services, t, alice, headers={**bearer(token), "X-Tenant-Tier": "premium",
                                               "X-User": "mallory"})
        with t.case("a tenant-a token with tenant and user headers of every spelling, on every "
                    "route of the three services"):
            agree(services, t, alice, routes=True, headers={**bearer(token), **INTERNAL_LURE})
        with t.case("no Authorization header at all, in all three services"):
            refused(services, t, [{}], NO_TOKEN_NO_TENANT)
        with t.case("the fulfilment service called directly with only x-tenant-id (no token)"):
            refused(services, t, [{"headers": {"x-tenant-id": "tenant-b"}}], NO_TOKEN_NO_TENANT,
                    ("fulfilment",), ROUTES)
        with t.case("only x-tenant-id or other identity headers (no token), on every route of "
                    "the three services"):
            refused(services, t, [{"headers": {"x-tenant-id": "tenant-b"}},
                                  {"headers": INTERNAL_LURE},
                                  {"headers": {"x-amzn-oidc-data": token,
                                               "x-amzn-oidc-identity": alice.user}}],
                    NO_TOKEN_NO_TENANT, routes=ROUTES)
        with t.case("a genuine token under the scheme 'Token', in the query string or a cookie"):
            refused(services, t, [{"headers": {"Authorization": f"Token {token}"}},
                                  {"headers": {"Authorization": token}},
                                  {"params": {"access_token": token, "id_token": token}},
                                  {"headers": {"Cookie": f"id_token={token}; access_token="
                                                         f"{token}; token={token}"}}],
                    "one place and one form for the token, 'Authorization: Bearer <token>', in "
                    "every service (a cookie also brings cross-site request forgery).")
        name = "a genuine ID token of another user pool (claiming tenant-a)"
        if lab.settings.embedded:
            with t.case(name):
                refused(services, t, [{"headers": bearer(foreign_id_token(lab))},
                                      {"headers": {**bearer(foreign_id_token(lab)),
                                                   "X-Tenant-Id": "tenant-a"}}],
                        "every pool's tokens are signed the same way here (and in moto with "
                        "the same key): only the issuer and the audience say which pool and "
                        "app a token is for. Check both, in the one library.")
        else:
            t.skip(name, "needs the embedded emulator")
        _forgeries(services, t, token, lab.access_token(alice.user), lab.settings.embedded)
        _no_cache_past_expiry(services, t, token, alice, tenant_from_request)


def _forgeries(services: Served, t: Trial, token: str, access: str, embedded: bool) -> None:
    """Every forged token of lab 1, sent to every service: one library, one set of rules."""
    recent = recently_expired(token) if embedded else None
    found = ([recent] if recent is not None else []) + forgeries(token, access, "tenant-b",
                                                                 embedded)
    with served_jwks(attacker_jwks(segments(token)[0].get("kid", "dummy"))) as jku:
        found += key_in_header_forgeries(token, "tenant-b", jku)
        for forged in found:
            if forged.token is None or forged.token.startswith("Bearer") or not forged.token:
                continue
            with t.case(f"the three services with {forged.name}"):
                refused(services, t, [{"headers": bearer(forged.token)}], forged.hint)


def _no_cache_past_expiry(services: Served, t: Trial, token: str, alice: TenantContext,
                          learner: Any) -> None:
    """A context remembered per token must not outlive the token (lab 1's 1.4 probe)."""
    tokens = cache_probe_tokens(token, "lab3-library")
    name = "the same Authorization header three days later (after the token's exp)"
    if tokens is None or not can_move():
        t.skip(name, "it needs the emulator's key and PyJWT's clock")
        return
    seen, never = tokens
    with t.case(name):
        agree(services, t, alice, headers=bearer(seen))
        with clock_ahead(fns=(learner,)):
            reply, _ = services.create("fulfilment", headers=bearer(never))
            if reply.status != 401:
                t.skip(name, "your function does not read PyJWT's clock")
                return
            refused(services, t, [{"headers": bearer(seen)}],
                    "a context remembered by header value outlives the token: verify on every "
                    "request (or check exp on every cache hit).", routes=ROUTES[:1])
