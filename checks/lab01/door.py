"""Check 1.4: the tenant middleware of the order service, called over real HTTP.

The check serves the order service with the learner's resolver behind a thin
wrapper of its own that remembers the context each request resolved to: the
service uses exactly what the learner returned, so the check compares the
whole context (tenant, tier and user), not only what a response happens to show.
"""

from __future__ import annotations

from typing import Any

import requests

from environment.account.tenants import TENANTS
from environment.app.context import TenantContext
from environment.app.orders import create_order_service
from environment.app.serving import serve
from environment.lab import Lab

from ..answers import Reply
from ..clock import can_move, clock_ahead
from ..forgery import cache_probe_tokens, forgeries, minted, recently_expired
from ..framework import NotStarted, Trial, exercise, short
from ..scratch import fresh_table
from .common import ALICE

ONLY_THE_TOKEN = ("the context comes from the verified token and nothing else: a body, a query "
                  "string or a header is something the caller typed.")
REFUSE = ("raise unless the request carries 'Authorization: Bearer <token>' and the token "
          "verifies and names a tenant; the service turns that into 401.")


class Door:
    """The order service with the learner's resolver, and the contexts it resolved."""

    def __init__(self, url: str, seen: list[Any], t: Trial) -> None:
        self.url, self.seen, self.t = url, seen, t
        self.learner: Any = None

    def ask(self, method: str, path: str, **kwargs: Any) -> tuple[Reply, Any]:
        """One request; the reply and the context the resolver returned for it (or None)."""
        self.seen.clear()
        try:
            reply = Reply(requests.request(method, self.url + path, timeout=self.t.timeout,
                                           **kwargs))
        except requests.Timeout:
            self.t.expect(False, "an answer from the order service",
                          f"no answer within {self.t.timeout:g} s: does your function hang?")
        if reply.status == 501:
            raise NotStarted(reply.body.get("detail", ""))
        return reply, (self.seen[-1] if self.seen else None)

    def refuses(self, method: str, path: str, hint: str = REFUSE, **kwargs: Any) -> None:
        reply, _ = self.ask(method, path, **kwargs)
        self.t.expect(reply.status == 401, "401 Unauthorized", str(reply), hint=hint)

    def serves(self, want: TenantContext, method: str, path: str, **kwargs: Any) -> None:
        reply, ctx = self.ask(method, path, **kwargs)
        self.t.expect(reply.status < 300, f"the request served as {want.tenant_id}", str(reply),
                      hint="a genuine token of the pool must pass.")
        self.t.expect(ctx == want, f"the context {want}", short(ctx), hint=ONLY_THE_TOKEN)


NAMESPACED_LURE = {"custom:tenant_id": "tenant-b", "custom:tenant_tier": "premium",
                   "cognito:username": "mallory", "tenant_id": "tenant-b", "tenant": "tenant-b",
                   "tenant_tier": "premium", "tier": "premium", "user": "mallory"}
HEADER_LURE = {"X-Tenant-Id": "tenant-b", "Tenant-Id": "tenant-b", "X-Tenant": "tenant-b",
               "X-Custom-Tenant-Id": "tenant-b", "Tenant_Id": "tenant-b",
               "X-Tenant-Tier": "premium", "X-Tier": "premium", "X-User": "mallory",
               "X-Cognito-Username": "mallory"}
OTHER_SCHEMES = ("Basic0", "JWT", "Bearer0", "Token", "MAC", "Negotiate", "Bearers", "NotBearer",
                 "Bearer:")


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@exercise(
    "1.4", "tenant middleware for the order service", ("tenant_from_request",),
    hint="read the token from the Authorization header only, and only under the Bearer scheme; "
         "verify it and build the context with your functions from 1.2 and 1.3. Nothing else "
         "in the request may fill in or change any part of the context.",
    code_hint="scheme, _, token = request.headers.get('Authorization', '').partition(' '); "
              "raise PermissionError unless scheme.lower() == 'bearer' and token; return "
              "tenant_context(verify_token(token.strip()))",
)
def check_tenant_middleware(tenant_from_request, t: Trial) -> None:
    lab = t.lab
    orders = fresh_table(lab, "check-orders")
    seen: list[Any] = []

    def remembered(request):
        ctx = tenant_from_request(request)
        seen.append(ctx)
        return ctx

    with serve(create_order_service(orders.table, remembered)) as service:
        door = Door(service.url, seen, t)
        door.learner = tenant_from_request
        for tenant in TENANTS:
            user = tenant.users[0]
            with t.case(f"POST /orders as {user}"):
                door.serves(TenantContext(tenant.id, tenant.tier, user), "POST", "/orders",
                            json={"items": []}, headers=bearer(lab.id_token(user)))
        _lures(door, t, lab)
        _refusals(door, t, lab)
        _no_cache_past_expiry(door, t, lab)
        with t.case("a genuine token under the scheme 'bearer' (lower case)"):
            door.serves(TenantContext(TENANTS[0].id, TENANTS[0].tier, ALICE), "GET", "/orders",
                        headers={"Authorization": f"bearer {lab.id_token(ALICE)}"})


def _lures(door: Door, t: Trial, lab: Lab) -> None:
    alice = bearer(lab.id_token(ALICE))
    want = TenantContext(TENANTS[0].id, TENANTS[0].tier, ALICE)
    lures = [
        ("a tenant-a token with tenant_id 'tenant-b' in the JSON body", "POST", "/orders",
         {"json": {"tenant_id": "tenant-b", "items": []}, "headers": alice}),
        ("a tenant-a token with tier 'premium' and another user in the JSON body", "POST",
         "/orders", {"json": {"tenant_tier": "premium", "tier": "premium",
                              "user": "mallory", "items": []}, "headers": alice}),
        ("a tenant-a token with ?tenant_id=tenant-b in the query", "GET",
         "/orders?tenant_id=tenant-b&tier=premium", {"headers": alice}),
        ("a tenant-a token with an X-Tenant-Id: tenant-b header", "GET", "/orders",
         {"headers": {**alice, "X-Tenant-Id": "tenant-b"}}),
        ("a basic tenant's token with an X-Tenant-Tier: premium header", "GET", "/orders",
         {"headers": {**alice, "X-Tenant-Tier": "premium", "X-User": "mallory"}}),
        ("a tenant-a token with the namespaced claims of tenant-b in the JSON body", "POST",
         "/orders", {"json": {**NAMESPACED_LURE, "items": []}, "headers": alice}),
        ("a tenant-a token with the namespaced claims of tenant-b in the query", "GET",
         "/orders", {"params": NAMESPACED_LURE, "headers": alice}),
        ("a tenant-a token with tenant headers of every spelling", "GET", "/orders",
         {"headers": {**alice, **HEADER_LURE}}),
    ]
    for name, method, path, kwargs in lures:
        with t.case(name):
            door.serves(want, method, path, **kwargs)


def _refusals(door: Door, t: Trial, lab: Lab) -> None:
    token = lab.id_token(ALICE)
    refused: list[tuple[str, Any, str]] = [
        ("no Authorization header", {}, REFUSE),
        ("Authorization: Basic with a user and password",
         {"headers": {"Authorization": "Basic YWxpY2U6TGFiLVBhc3N3MHJkIQ=="}}, REFUSE),
        ("a bare token without the Bearer scheme", {"headers": {"Authorization": token}},
         "the header must be exactly 'Bearer <token>': refuse other schemes and bare tokens."),
        ("a genuine token under the scheme 'Token'",
         {"headers": {"Authorization": f"Token {token}"}},
         "check the scheme word itself, not only that there is a token after it."),
        ("a genuine token in the query string (?access_token=...) and no header",
         {"params": {"access_token": token, "id_token": token, "token": token}},
         "tokens in URLs end up in logs and browser history: accept the header only."),
        ("a genuine token under the schemes " + ", ".join(OTHER_SCHEMES[:3]) + " and others",
         [{"headers": {"Authorization": f"{scheme} {token}"}} for scheme in OTHER_SCHEMES],
         "compare the whole scheme word with 'Bearer' (in any letter case): slicing the header "
         "at a fixed position accepts any word of that length."),
        ("a genuine token in an X-Id-Token header and a cookie, no Authorization",
         {"headers": {"X-Id-Token": token, "Cookie": f"id_token={token}"}},
         "one place for the token, the Authorization header: every other place is another "
         "door to guard (a cookie also brings cross-site request forgery)."),
        ("a genuine token in X-Auth-Token and other headers or cookies, no Authorization",
         [{"headers": {name: token}} for name in
          ("X-Auth-Token", "X-Access-Token", "X-Token", "Token", "X-Jwt", "X-Amz-Security-Token",
           "X-Authorization")]
         + [{"headers": {"Cookie": f"{name}={token}"}} for name in
            ("token", "access_token", "jwt", "auth", "Authorization", "session")]
         + [{"data": {"access_token": token, "id_token": token, "token": token}}],
         "one place for the token, the Authorization header: every other place is another "
         "door to guard (a cookie also brings cross-site request forgery)."),
    ]
    stripped = minted(token, drop=("custom:tenant_id", "custom:tenant_tier"))
    if stripped is not None:
        refused.append(("a pool token without tenant claims, with tenant_id in the JSON body",
                        [{"json": NAMESPACED_LURE, "headers": bearer(stripped)},
                         {"params": NAMESPACED_LURE, "headers": bearer(stripped)},
                         {"headers": {**bearer(stripped), **HEADER_LURE}},
                         {"json": NAMESPACED_LURE, "params": NAMESPACED_LURE,
                          "headers": {**bearer(stripped), **HEADER_LURE}}],
                        "a token without a tenant gets no context: nothing in the request may "
                        "fill in what the token lacks."))
    tenantless = minted(token, drop=("custom:tenant_id",))
    if tenantless is not None:
        refused.append(("a pool token without custom:tenant_id, with tenant-b in headers, query "
                        "and body",
                        [{"headers": {**bearer(tenantless), **HEADER_LURE}},
                         {"params": NAMESPACED_LURE, "headers": bearer(tenantless)},
                         {"json": NAMESPACED_LURE, "headers": bearer(tenantless)},
                         {"data": NAMESPACED_LURE, "headers": bearer(tenantless)}],
                        "a token without a tenant gets no context: nothing in the request may "
                        "fill in what the token lacks."))
    untiered = minted(token, drop=("custom:tenant_tier",))
    if untiered is not None:
        refused.append(("a pool token without custom:tenant_tier, with X-Tenant-Tier: premium",
                        {"headers": {**bearer(untiered), "X-Tenant-Tier": "premium"}},
                        "a token without a tier gets no context: no header may fill it in."))
    forged = forgeries(token, lab.access_token(ALICE), "tenant-b", lab.settings.embedded)
    recent = recently_expired(token) if lab.settings.embedded else None
    forged += [recent] if recent is not None else []
    refused += [(f"Bearer with {f.name}", {"headers": bearer(f.token)}, f.hint)
                for f in forged if f.token and not f.token.startswith("Bearer")]
    for name, requests_, hint in refused:
        with t.case(name):
            for kwargs in requests_ if isinstance(requests_, list) else [requests_]:
                door.refuses("POST" if "json" in kwargs or "data" in kwargs else "GET",
                             "/orders", hint=hint, **kwargs)


def _no_cache_past_expiry(door: Door, t: Trial, lab: Lab) -> None:
    tokens = cache_probe_tokens(lab.id_token(ALICE), "door")
    if tokens is None or not can_move():
        t.skip("a context cached past expiry", "it needs the emulator's key and PyJWT's clock")
        return
    seen, never = tokens
    name = "the same Authorization header three days later (after the token's exp)"
    with t.case(name):
        door.serves(TenantContext(TENANTS[0].id, TENANTS[0].tier, ALICE), "GET", "/orders",
                    headers=bearer(seen))
        with clock_ahead(fns=(door.learner,)):
            reply, _ = door.ask("GET", "/orders", headers=bearer(never))
            if reply.status != 401:
                t.skip(name, "your middleware does not read PyJWT's clock")
                return
            door.refuses("GET", "/orders", headers=bearer(seen),
                         hint="a context remembered by header value outlives the token: verify "
                              "on every request (or check exp on every cache hit).")
