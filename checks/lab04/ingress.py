"""Check 4.1: the ingress router's routing function, called directly and behind the router.

The function decides where a request goes from the verified token and the routes table. The
check varies the mapping (a table of its own, with routes nobody can have hard-coded, a tenant
left out and a lookalike tenant in), reads in the account's audit trail how the function read
it (one route, not the whole mapping), and sends requests through the kit's router to the
running deployments, reading which copy of the order service answered each. The headers it
hands over remember every name the function looks up (only Authorization may be); tenants
nobody onboarded (minted, basic and premium) get no route; a route that changes is followed
from the next request; tokens that carry their own key, expired an hour ago, or are seen again
after their exp (the clocks moved) are refused.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from typing import Any

import jwt
import requests

from environment.account.routes import route_item
from environment.account.tenants import TENANTS, Tenant
from environment.app.fulfilment import DEPLOYMENT_HEADER
from environment.app.router import create_router, service_urls
from environment.app.serving import serve

from ..answers import Reply
from ..clock import can_move, clock_ahead
from ..forgery import (
    attacker_jwks,
    cache_probe_tokens,
    forgeries,
    key_in_header_forgeries,
    minted,
    recently_expired,
    served_jwks,
)
from ..framework import NotStarted, Trial, exercise, on_the_main_thread, short
from ..scratch import PARTITION_READS, fresh_table, kit_table
from .common import (
    SPOOFED,
    TENANT_REFUSALS,
    TOKEN_REFUSALS,
    as_user,
    headers,
    only_the_token,
    running_deployments,
)

MAPPING_DECIDES = ("look the verified tenant up in the routes table you are given and return "
                   "its item's 'deployment'; never decide from the tenant id or tier alone.")
NO_DEFAULT = ("a tenant without a route raises PermissionError (the router answers 403): a "
              "default route sends a tenant nobody onboarded into somebody's deployment.")
ONLY_THE_TOKEN = ("route on the verified token's claims only: every header but Authorization "
                  "(x-app-tier, X-Forwarded-*, an 'override' header) is typed by the caller; "
                  "do not even look them up.")
TOKEN_ONLY = ("verify the bearer token (verify_id_token) and raise on failure: the router "
              "answers 401 to PyJWT's errors, Unauthorized and ValueError.")
# The check's own mapping: routes nobody can have hard-coded, tenant-b and tenant-d left out,
# and a lookalike of tenant-d that a prefix or 'contains' match would find.
CHECK_ROUTES = {"tenant-a": "cell-7", "tenant-c": "pool", "tenant-dd": "silo-tenant-dd"}
# tenant-a's partition also keeps its route's history, sorted before ROUTE: the route is the
# item with sk 'ROUTE', not the first item of the partition.
DECOY = {"pk": "TENANT#tenant-a", "sk": "HISTORY#1", "tenant_id": "tenant-a",
         "deployment": "cell-0"}


def _deployment(t: Trial, route_for: Callable, sent: str, *args: Any) -> str:
    found = t.call(route_for, *args, hint="route_for returns the name of a deployment. The "
                   "routes table you are given is for a router's reads: GetItem (or a Query "
                   "of the tenant's key); the role it comes with may not use PartiQL.")
    t.expect(isinstance(found, str), "the deployment's name, a string such as 'pool'",
             short(found), sent=sent,
             hint="return the item's 'deployment' value itself, not the item or the response.")
    return str.__str__(found)  # a plain str: a subclass's own == would decide the comparisons


@exercise(
    "4.1", "ingress routing by tenant", ("route_for",),
    hint="verify the bearer token, take custom:tenant_id from its claims, read that tenant's "
         "route from the routes table and return its deployment; a tenant without a route "
         "raises PermissionError, a token that does not verify raises.",
    code_hint="claims = verify_id_token(lab.identity, bearer_token(headers)); item = "
              "routes.get_item(Key={'pk': f\"TENANT#{claims['custom:tenant_id']}\", 'sk': "
              "'ROUTE'}).get('Item'); raise PermissionError(...) if item is None; return "
              "item['deployment']",
)
def check_ingress_routing(route_for, t: Trial) -> None:
    lab = t.lab
    routes = kit_table(lab, lab.settings.name("routes"))
    for tenant in TENANTS:
        with t.case(f"{tenant.id}'s users are routed to {tenant.deployment_name}"):
            for user in tenant.users:
                got = _deployment(t, route_for, f"a token of {user}", as_user(lab, user), routes)
                t.expect(got == tenant.deployment_name, repr(tenant.deployment_name), repr(got),
                         sent=f"a token of {user}", hint=MAPPING_DECIDES)
    with t.case("headers the caller typed do not choose the deployment"):
        sent = f"a token of {TENANTS[0].users[0]} and headers {sorted(SPOOFED)}"
        given = as_user(lab, TENANTS[0].users[0], SPOOFED)
        got = _deployment(t, route_for, sent, given, routes)
        only_the_token(t, given.typed(), sent, ONLY_THE_TOKEN)
        t.expect(got == TENANTS[0].deployment_name, repr(TENANTS[0].deployment_name), repr(got),
                 sent=sent, hint=ONLY_THE_TOKEN)
    # a name nobody can special-case: the lab's own prefix and a random word
    scratch = fresh_table(lab, f"routes-{secrets.token_hex(3)}")
    try:
        scratch.put_many([{**route_item(_named(tenant_id)), "deployment": deployment}
                          for tenant_id, deployment in CHECK_ROUTES.items()])
        _the_mapping_decides(t, route_for, scratch)
        _other_items_in_the_partition(t, route_for, scratch)
        _refusals(t, route_for, routes)
        _no_cache_past_expiry(t, route_for, routes)
        _through_the_router(t, route_for, routes, scratch.table)
    finally:
        lab.settings.client("dynamodb").delete_table(TableName=scratch.name)


def _named(tenant_id: str) -> Tenant:
    known = {tenant.id: tenant for tenant in TENANTS}
    return known.get(tenant_id) or Tenant(tenant_id, tenant_id, "basic", ())


def _the_mapping_decides(t: Trial, route_for: Callable, scratch) -> None:
    lab = t.lab
    mark = scratch.mark()
    for tenant_id in ("tenant-a", "tenant-c"):
        user = _named(tenant_id).users[0]
        want = CHECK_ROUTES[tenant_id]
        with t.case(f"a mapping your code has not seen: {tenant_id} -> {want}"):
            sent = f"a token of {user}, and a routes table where {tenant_id} goes to {want}"
            got = _deployment(t, route_for, sent, as_user(lab, user), scratch.table)
            t.expect(got == want, repr(want), repr(got), sent=sent, hint=MAPPING_DECIDES)
    _the_tenant_claim_decides(t, route_for, scratch)
    for tenant_id, why in (("tenant-b", "is not in the mapping"),
                           ("tenant-d", "is not in the mapping, but tenant-dd is")):
        user = _named(tenant_id).users[0]
        with t.case(f"a tenant that {why} gets no route (403)"):
            t.rejects(route_for, as_user(lab, user), scratch.table, accept=TENANT_REFUSALS,
                      sent=f"a token of {user}; {tenant_id} {why}", hint=NO_DEFAULT,
                      code_hint="item = routes.get_item(Key=...).get('Item'); if item is None: "
                                "raise PermissionError(f'no route for {tenant_id}')")
    _unknown_tenants(t, route_for, scratch)
    _the_route_changes(t, route_for, scratch)
    if not scratch.observed:
        t.skip("reads the caller's route, not the whole mapping",
               "the account keeps no audit trail here")
        return
    with t.case("reads the caller's route, not the whole mapping"):
        calls = scratch.calls_since(mark)
        odd = {action: n for action, n in calls.items()
               if action not in PARTITION_READS | {"GetItem"}}
        t.expect(not odd, "GetItem (or a Query of the tenant's key) per request",
                 f"the account saw {dict(calls)}",
                 hint="a router reads one route per request: get the tenant's item by its "
                      "key. A Scan reads every tenant's route to find one.")


def _unknown_tenants(t: Trial, route_for: Callable, scratch) -> None:
    """Tenants nobody has heard of, minted with the emulator's key: no route, no default."""
    lab = t.lab
    word = secrets.token_hex(2)
    unknown = [(f"tenant-{word}", "basic", TENANTS[0].users[0]),
               (f"tenant-{word}p", "premium", TENANTS[2].users[0])]
    name = "a tenant nobody onboarded (basic or premium) gets no route (403)"
    tokens = [(tid, tier, minted(lab.id_token(user), **{"custom:tenant_id": tid,
                                                        "custom:tenant_tier": tier}))
              for tid, tier, user in unknown]
    if any(token is None for _, _, token in tokens):
        t.skip(name, "the emulator's signing key is not at hand")
        return
    with t.case(name), on_the_main_thread():  # where a notebook runs it, too
        for tid, tier, token in tokens:
            t.rejects(route_for, headers(token), scratch.table, accept=TENANT_REFUSALS,
                      sent=f"a genuine token of a {tier} tenant {tid!r}, which has no route",
                      hint=f"{NO_DEFAULT} Neither the pool nor a silo named after the tenant is "
                           "a route: only the table's item is.")


def _the_route_changes(t: Trial, route_for: Callable, scratch) -> None:
    """Moving a tenant is writing its route: the next request goes to the new deployment."""
    lab = t.lab
    user = TENANTS[0].users[0]
    moved = f"cell-{secrets.randbelow(90) + 10}"
    with t.case("a tenant moved to another deployment is routed there from the next request"):
        scratch.put_many([{**route_item(_named("tenant-a")), "deployment": moved}])
        try:
            sent = f"a token of {user}, after tenant-a's route changed to {moved}"
            got = _deployment(t, route_for, sent, as_user(lab, user), scratch.table)
            t.expect(got == moved, repr(moved), repr(got), sent=sent,
                     hint="read the route on every request: a route remembered in your code "
                          "keeps sending a migrated tenant to its old deployment.")
        finally:
            scratch.put_many([{**route_item(_named("tenant-a")),
                               "deployment": CHECK_ROUTES["tenant-a"]}])


def _other_items_in_the_partition(t: Trial, route_for: Callable, scratch) -> None:
    user = TENANTS[0].users[0]
    with t.case("the route is the item with sort key ROUTE, not any item of the partition"):
        scratch.put_many([DECOY])
        sent = (f"a token of {user}; tenant-a's partition also holds {DECOY['sk']!r} (sorted "
                f"before 'ROUTE') with deployment {DECOY['deployment']!r}")
        got = _deployment(t, route_for, sent, as_user(t.lab, user), scratch.table)
        want = CHECK_ROUTES["tenant-a"]
        t.expect(got == want, repr(want), repr(got), sent=sent,
                 hint="read the item by its whole key, {'pk': f'TENANT#{tenant_id}', 'sk': "
                      "'ROUTE'}: a partition holds more than one item.")


def _the_tenant_claim_decides(t: Trial, route_for: Callable, scratch) -> None:
    """Alice's token, minted to say tenant-c: the claim decides, not the user or their email."""
    name = "the tenant is the token's custom:tenant_id, not the user's name or email"
    alice = TENANTS[0].users[0]
    token = minted(t.lab.id_token(alice), **{"custom:tenant_id": "tenant-c"})
    if token is None:
        t.skip(name, "the emulator's signing key is not at hand")
        return
    with t.case(name):
        sent = f"a token of {alice} whose custom:tenant_id says tenant-c"
        got = _deployment(t, route_for, sent, headers(token), scratch.table)
        t.expect(got == CHECK_ROUTES["tenant-c"], repr(CHECK_ROUTES["tenant-c"]), repr(got),
                 sent=sent, hint="the tenant is the claim custom:tenant_id; a user name or an "
                                 "email domain only happens to match it in this lab.")


def _refusals(t: Trial, route_for: Callable, routes) -> None:
    lab = t.lab
    alice = TENANTS[0].users[0]
    with t.case("no token, or another scheme, gets 401"):
        for sent, given in (("no Authorization header", headers()),
                            ("Authorization: Basic YWxpY2U6cHc=",
                             headers(Authorization="Basic YWxpY2U6cHc=")),
                            ("Authorization: Bearer (nothing after it)",
                             headers(Authorization="Bearer "))):
            t.rejects(route_for, given, routes, accept=TOKEN_REFUSALS, sent=sent, hint=TOKEN_ONLY)
    forged = forgeries(lab.id_token(alice), lab.access_token(alice), "tenant-c",
                       use_emulator_key=True)
    with t.case("forged, expired and misaddressed tokens get 401"):
        for forgery in forged:
            if forgery.token is None:
                continue
            t.rejects(route_for, headers(forgery.token), routes, accept=TOKEN_REFUSALS,
                      sent=forgery.name, hint=f"{TOKEN_ONLY} {forgery.hint}")
    if any(forgery.token is None for forgery in forged):
        t.skip("tokens signed with the emulator's key", "the signing key is not at hand")
    genuine = lab.id_token(alice)
    recent = recently_expired(genuine) if lab.settings.embedded else None
    with served_jwks(attacker_jwks(jwt.get_unverified_header(genuine).get("kid", "dummy"))
                     ) as jku, t.case("tokens that carry their own key, or expired an hour ago, "
                                      "get 401"):
        for forgery in key_in_header_forgeries(genuine, "tenant-c", jku) + (
                [recent] if recent is not None else []):
            t.rejects(route_for, headers(forgery.token), routes, accept=TOKEN_REFUSALS,
                      sent=forgery.name, hint=f"{TOKEN_ONLY} {forgery.hint}")


def _no_cache_past_expiry(t: Trial, route_for: Callable, routes) -> None:
    """A route or claims remembered by token string must not outlive the token."""
    name = "the same token three days later (after its exp) gets 401"
    tokens = cache_probe_tokens(t.lab.id_token(TENANTS[0].users[0]), "routing")
    if tokens is None or not can_move():
        t.skip(name, "it needs the emulator's key and PyJWT's clock")
        return
    seen, never = tokens
    with t.case(name):
        _deployment(t, route_for, "a fresh token of tenant-a", headers(seen), routes)
        with clock_ahead(fns=(route_for,)):
            try:
                t.rejects(route_for, headers(never), routes, accept=TOKEN_REFUSALS, hint="")
            except Exception:  # noqa: BLE001 - the moved clock does not reach this code
                t.skip(name, "your function does not read PyJWT's clock")
                return
            t.rejects(route_for, headers(seen), routes, accept=TOKEN_REFUSALS,
                      sent="a token your function saw while it was valid, three days later",
                      hint="claims or a route remembered by token string outlive the token: "
                           "verify on every request (or check exp on every cache hit).")


def _through_the_router(t: Trial, route_for: Callable, routes, scratch_routes) -> None:
    lab = t.lab

    def ask(router_url: str, given) -> Reply:
        try:
            return Reply(requests.get(f"{router_url}/orders", headers=dict(given),
                                      timeout=t.timeout))
        except requests.Timeout:
            t.expect(False, "an answer from the router",
                     f"no answer within {t.timeout:g} s: does route_for hang?")
            raise AssertionError("unreachable") from None

    urls = service_urls(running_deployments(lab))
    with serve(create_router(lambda given: route_for(given, routes), urls)) as router:
        with t.case("through the router: each tenant is served by its own deployment"):
            for tenant in TENANTS:
                user = tenant.users[0]
                reply = ask(router.url, as_user(lab, user))
                if reply.status == 501:
                    raise NotStarted(reply.body.get("detail", ""))
                served = reply.headers.get(DEPLOYMENT_HEADER, "nobody")
                want = f"order-service/{tenant.deployment_name}"
                t.expect(reply.status == 200 and served == want,
                         f"200 from {want}", f"{reply} from {served}",
                         sent=f"GET /orders as {user}", hint=MAPPING_DECIDES)
        with t.case("through the router: a forged token gets 401, nothing forwarded"):
            reply = ask(router.url, headers("not-a-token"))
            t.expect(reply.status == 401, "401", str(reply), hint=TOKEN_ONLY)
    with serve(create_router(lambda given: route_for(given, scratch_routes),
                             urls)) as router:
        with t.case("through the router: a tenant without a route gets 403"):
            reply = ask(router.url, as_user(lab, TENANTS[1].users[0]))
            t.expect(reply.status == 403, "403", str(reply),
                     sent=f"GET /orders as {TENANTS[1].users[0]}, tenant-b not in the "
                          "mapping", hint=NO_DEFAULT)

