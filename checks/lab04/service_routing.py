"""Check 4.2: service-to-service routing, the order service calling fulfilment through the mesh.

Every deployment runs with the learner's ``fulfil`` as its order service's hook. The check
places an order for each tenant in that tenant's deployment and asks to fulfil it, then reads
three places the learner's code cannot route around: which copy of fulfilment answered, the
table where the fulfilment record landed (read with the kit's own client), and the mesh's log
of the headers it routed on, compared with the verified context of the request. The hook sees
the request through ``ReadRequest``, so reading any header but Authorization (or the body,
or the query) fails the spoof cases whatever its name; a hop that fails (the mesh answering
400, a fulfilment answering 404, nothing listening, a premium silo gone) must raise, not queue
or fall back to the pool.
"""

from __future__ import annotations

from typing import Any

import requests

from environment.account.tenants import TENANTS, Tenant
from environment.app.deployments import Deployments
from environment.app.keys import fulfilment_sk, tenant_pk
from environment.app.mesh import TENANT_HEADER, TIER_HEADER

from ..answers import Reply, nobody_listening
from ..forgery import minted
from ..framework import NotStarted, Trial, exercise, short
from ..scratch import kit_table
from .common import SPOOFED, ReadRequest, as_user, only_the_token, running_deployments, tenant

FROM_CONTEXT = ("set x-app-tier and x-app-tenant-id yourself, from the tenant context the order "
                "service verified (current_tenant()); never copy them from the incoming "
                "request: the caller typed those.")
FORWARD = ("POST the order's id to the mesh's /fulfilments with the caller's Authorization "
           "header (fulfilment verifies the token itself) and the two routing headers; return "
           "its JSON answer, and raise when it does not answer 2xx.")


class Hook:
    """The learner's ``fulfil`` as the order services' hook: it sees the request through
    ``ReadRequest`` (what it reads of it is remembered), and the check may hand it another
    mesh URL (one where nothing listens)."""

    def __init__(self, fulfil: Any) -> None:
        self.fulfil = fulfil
        self.seen: list[ReadRequest] = []
        self.mesh: str | None = None

    def __call__(self, incoming: Any, order: dict, mesh: str) -> Any:
        seen = ReadRequest(incoming)
        self.seen.append(seen)
        return self.fulfil(seen, order, self.mesh or mesh)

    def typed(self, headers_only: bool = False) -> list[str]:
        """What the last call read of the request beyond its Authorization header."""
        if not self.seen:
            return []
        last = self.seen[-1]
        return [f"the header {n!r}" for n in last.headers.typed()] if headers_only else (
            last.typed())


class Shop:
    """The running deployments, and one order placed and fulfilled at a time."""

    def __init__(self, t: Trial, deployments: Deployments, hook: Hook) -> None:
        self.t, self.d, self.hook = t, deployments, hook

    def attempt(self, tenant_: Tenant, given: dict[str, str], sent: str) -> Reply:
        """Place an order and ask to fulfil it; the order service's reply, whatever it is."""
        orders = self.d[tenant_.deployment_name].url("orders")
        placed = requests.post(f"{orders}/orders", json={"items": []}, headers=given,
                               timeout=self.t.timeout).json()
        try:
            return Reply(requests.post(f"{orders}/orders/{placed['order_id']}/fulfil",
                                       headers=given, timeout=self.t.timeout))
        except requests.Timeout:
            self.t.expect(False, "an answer from the order service",
                          f"no answer within {self.t.timeout:g} s: does fulfil hang (a request "
                          "without a timeout)?", sent=sent)
            raise AssertionError("unreachable") from None

    def fulfil(self, tenant_: Tenant, given: dict[str, str], sent: str,
               **extra: Any) -> tuple[Reply, list]:
        """Place an order in the tenant's deployment, fulfil it; the reply and what the mesh
        routed meanwhile."""
        orders = self.d[tenant_.deployment_name].url("orders")
        placed = requests.post(f"{orders}/orders", json={"items": []}, headers=given,
                               timeout=self.t.timeout)
        self.t.expect(placed.status_code == 201, "the order placed (201)",
                      str(Reply(placed)), sent=sent, hint="a lab problem: is the account up?")
        order_id = placed.json()["order_id"]
        before = len(self.d.mesh.routed)
        try:
            response = requests.post(f"{orders}/orders/{order_id}/fulfil", headers=given,
                                     timeout=self.t.timeout, **extra)
        except requests.Timeout:
            self.t.expect(False, "an answer from the order service",
                          f"no answer within {self.t.timeout:g} s: does fulfil hang (a request "
                          "without a timeout)?", sent=sent)
            raise AssertionError("unreachable") from None
        reply = Reply(response)
        if reply.status == 501:
            raise NotStarted(reply.body.get("detail", ""))
        unrouted = len(self.d.mesh.routed) == before
        self.t.expect(reply.status == 200, "200 with the order and fulfilment's answer",
                      str(reply), sent=sent, hint=FORWARD if not unrouted else (
                          f"the mesh routed nothing: it answers 400 unless {TIER_HEADER} is "
                          f"basic, advanced or premium (lower case, as the context has it) and "
                          f"{TENANT_HEADER} names the tenant. {FORWARD}"))
        answer = reply.body.get("fulfilment")
        self.t.expect(isinstance(answer, dict), "fulfil returns fulfilment's JSON answer (a dict)",
                      short(answer), sent=sent,
                      hint="return response.json(), not the response object or its text.")
        reply.body["order_id"] = order_id
        return reply, self.d.mesh.routed[before:]

    def landed(self, tenant_id: str, deployment: str, order_id: str) -> bool:
        table = self.d[deployment].tables["fulfilments"]
        found = kit_table(self.t.lab, self.t.lab.settings.name(table)).get_item(
            Key={"pk": tenant_pk(tenant_id), "sk": fulfilment_sk(order_id)})
        return "Item" in found


def _routed_as(t: Trial, routed: list, tenant_id: str, tier: str, sent: str) -> None:
    seen = [(r.tenant_id, r.tier) for r in routed]
    t.expect(seen == [(tenant_id, tier)],
             f"one call through the mesh with x-app-tenant-id {tenant_id!r} and x-app-tier "
             f"{tier!r}", f"the mesh saw {seen}" if seen else "no call through the mesh",
             sent=sent, hint=FROM_CONTEXT if seen else
             "call the mesh (the URL fulfil is given), not a fulfilment service directly: the "
             "mesh is what knows where each tier's fulfilment runs.")


@exercise(
    "4.2", "service-to-service routing by tier", ("fulfil",),
    hint="read the tenant and tier from the verified context, send the fulfilment request to "
         "the mesh with x-app-tier and x-app-tenant-id set from that context and the caller's "
         "token forwarded, and return the answer (raise on an error).",
    code_hint="ctx = current_tenant(); r = requests.post(f'{mesh}/fulfilments', json={'order_id': "
              "order['order_id']}, headers={'Authorization': incoming.headers['Authorization'], "
              "'x-app-tier': ctx.tier, 'x-app-tenant-id': ctx.tenant_id}, timeout=5); "
              "r.raise_for_status(); return r.json()",
)
def check_service_routing(fulfil, t: Trial) -> None:
    lab = t.lab
    hook = Hook(fulfil)
    shop = Shop(t, running_deployments(lab, hook), hook)
    first = TENANTS[0]
    with t.case(f"an order of {first.id} is fulfilled through the mesh"):
        sent = f"POST /orders/<id>/fulfil as {first.users[0]}"
        shop.fulfil(first, dict(as_user(lab, first.users[0])), sent)
    for tenant_ in TENANTS:
        user = tenant_.users[0]
        want = tenant_.deployment_name
        with t.case(f"{tenant_.id} ({tenant_.tier}) is fulfilled by {want}"):
            sent = f"POST /orders/<id>/fulfil as {user}"
            reply, routed = shop.fulfil(tenant_, dict(as_user(lab, user)), sent)
            got = reply.body["fulfilment"].get("deployment")
            t.expect(got == want, f"fulfilled by {want}", f"fulfilled by {got!r}",
                     sent=sent, hint=FROM_CONTEXT)
            t.expect(shop.landed(tenant_.id, want, reply.body["order_id"]),
                     f"the fulfilment record in {want}'s table, in {tenant_.id}'s partition",
                     "no such record", sent=sent, hint=FORWARD)
            _routed_as(t, routed, tenant_.id, tenant_.tier, sent)
    _spoofs(t, shop)
    _unseen_tier(t, shop)
    _failures_are_reported(t, shop)


def _spoofs(t: Trial, shop: Shop) -> None:
    lab = t.lab
    for tenant_id, spoofed in (("tenant-a", SPOOFED),
                               ("tenant-d", {"X-App-Tier": "advanced",
                                             "X-App-Tenant-Id": "tenant-b"}),
                               ("tenant-c", {"x-app-tier": "basic"})):
        caller = tenant(tenant_id)
        user = caller.users[0]
        want = caller.deployment_name
        with t.case(f"{tenant_id}'s x-app-tier: {spoofed.get('x-app-tier') or 'advanced'} "
                    "header does not choose the deployment"):
            sent = f"POST /orders/<id>/fulfil as {user} with headers {spoofed}"
            reply, routed = shop.fulfil(caller, dict(as_user(lab, user, spoofed)), sent)
            only_the_token(t, shop.hook.typed(headers_only=True), sent, FROM_CONTEXT)
            got = reply.body["fulfilment"].get("deployment")
            t.expect(got == want, f"fulfilled by {want}", f"fulfilled by {got!r}", sent=sent,
                     hint=FROM_CONTEXT)
            _routed_as(t, routed, caller.id, caller.tier, sent)
    caller = TENANTS[0]
    user = caller.users[0]
    with t.case("a tier in the query string or the body does not choose it either"):
        lure = {"tier": "premium", "tenant_tier": "premium", "tenant_id": "tenant-c",
                "tenant": "tenant-c", "x-app-tier": "premium", "x-app-tenant-id": "tenant-c"}
        sent = f"POST /orders/<id>/fulfil as {user}, with {lure} in the query and the body"
        reply, routed = shop.fulfil(caller, dict(as_user(lab, user)), sent, params=lure,
                                    json=lure)
        only_the_token(t, shop.hook.typed(), sent, FROM_CONTEXT)
        _routed_as(t, routed, caller.id, caller.tier, sent)


def _unseen_tier(t: Trial, shop: Shop) -> None:
    """A context nobody can have hard-coded: tenant-d's token with the tier 'advanced'."""
    lab = t.lab
    caller = tenant("tenant-d")
    token = minted(lab.id_token(caller.users[0]), **{"custom:tenant_tier": "advanced"})
    name = "the tier comes from the context: tenant-d, upgraded to advanced"
    if token is None:
        t.skip(name, "the emulator's signing key is not at hand")
        return
    with t.case(name):
        sent = f"POST /orders/<id>/fulfil as {caller.users[0]}, whose token now says advanced"
        _, routed = shop.fulfil(caller, {"Authorization": f"Bearer {token}"}, sent)
        _routed_as(t, routed, caller.id, "advanced", sent)


def _failures_are_reported(t: Trial, shop: Shop) -> None:
    """A hop that fails must raise (the order service answers 502): the mesh answering 400,
    nothing listening at the mesh's URL, a premium tenant's silo gone from the mesh."""
    lab = t.lab
    services = shop.d.mesh.services
    alice, carol = TENANTS[0], tenant("tenant-c")
    raise_it = ("a fulfilment that did not happen must not look like one: raise when the mesh "
                "answers an error (response.raise_for_status()) or cannot be reached; do not "
                "retry on another tier's deployment.")
    with t.case("a fulfilment that fails is reported, not hidden"):
        sent = (f"POST /orders/<id>/fulfil as {alice.users[0]}, while the mesh has no route to "
                "the pool's fulfilment (it answers 400)")
        pool = services.pop("pool")
        try:
            reply = shop.attempt(alice, dict(as_user(lab, alice.users[0])), sent)
        finally:
            services["pool"] = pool
        t.expect(reply.status == 502, "502 from the order service (fulfil raised)", str(reply),
                 sent=sent, hint=raise_it)
    with t.case("a fulfilment service answering 404 is reported, not hidden"):
        sent = (f"POST /orders/<id>/fulfil as {alice.users[0]}, with a mesh URL whose "
                "fulfilment answers 404 (Not Found)")
        shop.hook.mesh = f"{shop.d.mesh_url}/v0"
        try:
            reply = shop.attempt(alice, dict(as_user(lab, alice.users[0])), sent)
        finally:
            shop.hook.mesh = None
        t.expect(reply.status == 502, "502 from the order service (fulfil raised)", str(reply),
                 sent=sent, hint=f"{raise_it} Any answer but 2xx is a failure, a 404 too.")
    with t.case("a mesh nobody answers at is reported, not queued"):
        sent = f"POST /orders/<id>/fulfil as {alice.users[0]}, with nothing listening at the mesh"
        shop.hook.mesh = nobody_listening()
        try:
            reply = shop.attempt(alice, dict(as_user(lab, alice.users[0])), sent)
        finally:
            shop.hook.mesh = None
        t.expect(reply.status == 502, "502 from the order service (fulfil raised)", str(reply),
                 sent=sent, hint=raise_it)
    with t.case("a premium tenant whose silo is gone is not served by the pool"):
        silo = carol.deployment_name
        sent = f"POST /orders/<id>/fulfil as {carol.users[0]}, while {silo} is out of the mesh"
        before = len(shop.d.mesh.routed)
        gone = services.pop(silo)
        try:
            reply = shop.attempt(carol, dict(as_user(lab, carol.users[0])), sent)
        finally:
            services[silo] = gone
        routed = [(r.tier, r.deployment) for r in shop.d.mesh.routed[before:]]
        t.expect(reply.status == 502 and not routed, "502, and nothing routed anywhere",
                 f"{reply}; the mesh routed {routed}", sent=sent, hint=raise_it)
