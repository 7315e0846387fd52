"""Check 3.2: the order service forwards the caller's Authorization to fulfilment.

The check serves the fulfilment service with the kit's own resolver (so 3.1 does not decide
3.2) behind a recording wrapper, and the order service with the learner's hop as its ``fulfil``
hook. For every tenant, a second user included, fulfilment must resolve the caller's whole
context from the token the hop forwarded, and the shipment must land in that tenant's
partition (read back with the kit's own client); fulfilment must receive exactly the caller's
Authorization, once, and no tenant header beside it, also with callers of two tenants at once.
A fulfilment that refuses (any 4xx or 5xx, any body; a 4xx only once, so that a retry as
someone else would show) or cannot be reached must make the order service answer 502, in time,
not a success with an error inside.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import requests
from flask import Flask, copy_current_request_context, has_request_context, jsonify, request

from environment.account.tenants import TENANTS
from environment.app.auth import tenant_resolver
from environment.app.context import TenantContext
from environment.app.keys import fulfilment_sk, tenant_pk
from environment.app.serving import serve

from ..answers import nobody_listening
from ..framework import NotStarted, Raised, TimedOut, Trial, call_with_timeout, exercise, short
from ..scratch import fresh_table, raw_items
from .library import IDENTITY_LURE
from .services import Served, bearer, served

USERS = [(TENANTS[0].users[1], TENANTS[0]), (TENANTS[1].users[0], TENANTS[1]),
         (TENANTS[2].users[1], TENANTS[2]), (TENANTS[3].users[0], TENANTS[3])]
FORWARD = ("forward the caller's own Authorization header, as it came: fulfilment verifies it "
           "and derives the context itself; a token of your own, an x-tenant-id header or a "
           "header remembered from an earlier request makes it act for someone else.")
REPORT = ("a hop that fails must fail the request: raise when fulfilment does not answer 2xx "
          "(response.raise_for_status()), so the order service answers 502 instead of "
          "pretending the order ships.")


IDENTITY_HEADERS = {name.lower() for name in IDENTITY_LURE} - {"user-agent"}
SLOW = ("give the call a timeout= (a few seconds): a hop without one, or one that retries until "
        "fulfilment says yes, holds the caller's request forever when fulfilment hangs.")


def hop(learner: Callable, url: dict[str, str], timeout: float,
        slow: list[str] | None = None) -> Callable:
    """The order service's fulfil hook: the learner's function, with a time limit (a hop that
    runs out of it is noted in ``slow``: the 502 it turns into is not the learner's)."""

    def fulfil(request, order: dict[str, Any]) -> Any:
        real = getattr(request, "_get_current_object", lambda: request)()
        # the learner may read flask.request, as in any Flask handler: it runs in a worker
        # thread, so that thread gets a copy of this request's context
        fn = copy_current_request_context(learner) if has_request_context() else learner
        try:
            # less than the check's own HTTP timeout, so that a hang is reported as the hop's
            return call_with_timeout(fn, real, order, url["fulfilment"],
                                     timeout=timeout * 0.7)
        except NotStarted as stub:
            raise NotImplementedError(str(stub)) from None
        except Raised as raised:
            raise RuntimeError(f"{raised}{raised.where}") from None
        except TimedOut as late:
            if slow is not None:
                slow.append(f"your function {late}")
            raise RuntimeError(f"your function {late}") from None

    return fulfil


# How refusing fulfilments answer: a status, and a body that varies (a hop judges the status,
# not whether the body says "error").
REFUSALS = ((401, "json"), (403, "message"), (404, "html"), (409, "empty"), (429, "json"),
            (500, "html"), (503, "empty"))


def refusing(status: int, body: str, received: list[str | None]) -> Flask:
    """A fulfilment service that answers ``status`` with a body of the given kind; a 4xx only
    to the first call (a hop that retries as someone else would then get through), recording
    the Authorization of every call."""
    app = Flask(f"fulfilment-{status}")

    @app.route("/<path:anything>", methods=["GET", "POST"])
    def refuse(anything: str):
        received.append(request.headers.get("Authorization"))
        if status < 500 and len(received) > 1:
            return jsonify(order_id="retried", status="shipped", tenant_id="tenant-b"), 201
        if body == "json":
            return jsonify(error="refused", detail=f"fulfilment answers {status}"), status
        if body == "message":
            return jsonify(message=f"fulfilment answers {status}"), status
        if body == "html":
            return f"<html><body><h1>{status}</h1></body></html>", status, {
                "Content-Type": "text/html"}
        return "", status

    return app


def place(services: Served, t: Trial, headers: dict[str, str]) -> str:
    reply, _ = services.ask("order", "POST", "/orders", learner=False, json={"items": [
        {"product_id": "p-1", "quantity": 2}]}, headers=headers)
    t.expect(reply.status == 201 and isinstance(reply.body.get("order_id"), str),
             "the order service places the order (201)", str(reply))
    return reply.body["order_id"]


@exercise(
    "3.2", "tenant context over HTTP: forward Authorization", ("fulfil",),
    hint="call POST <fulfilment_url>/fulfilments with the order's id, forwarding the incoming "
         "request's Authorization header unchanged; return fulfilment's JSON and raise when it "
         "does not answer 2xx.",
    code_hint="response = requests.post(f'{fulfilment_url}/fulfilments', json={'order_id': "
              "order['order_id']}, headers={'Authorization': request.headers['Authorization']}, "
              "timeout=5); response.raise_for_status(); return response.json()",
)
def check_forward_authorization(fulfil, t: Trial) -> None:
    lab = t.lab
    scratch = fresh_table(lab, "check-lab3-hop")
    url: dict[str, str] = {}
    kit = tenant_resolver(lab.identity)
    resolvers = {"fulfilment": kit, "order": kit}
    slow: list[str] = []
    with served(t, scratch.table, resolvers, hop(fulfil, url, t.timeout, slow)) as services:
        url["fulfilment"] = services.urls["fulfilment"]
        for user, tenant in USERS:
            with t.case(f"POST /orders/<id>/fulfil as {user}"):
                _ships(services, t, lab, user, TenantContext(tenant.id, tenant.tier, user),
                       bearer(lab.id_token(user)), scratch.name)
        alice = TENANTS[0].users[0]
        with t.case("a caller who writes the scheme in lower case ('bearer <token>')"):
            token = lab.id_token(alice)
            _ships(services, t, lab, alice, TenantContext("tenant-a", "basic", alice),
                   {"Authorization": f"bearer {token}"}, scratch.name,
                   hint="forward the header as it came, scheme and all: rebuilding it from "
                        "a slice or a removeprefix('Bearer ') breaks on 'bearer'.")
        with t.case("a caller who also sends tenant headers: only Authorization travels"):
            _ships(services, t, lab, alice, TenantContext("tenant-a", "basic", alice),
                   {**bearer(lab.id_token(alice)), "X-Tenant-Id": "tenant-b",
                    "X-User": "mallory"}, scratch.name)
        with t.case("callers of tenant-a and tenant-b at the same time"):
            _concurrent(services, t, lab, scratch.name)
        for status, body in REFUSALS:
            with t.case(f"a fulfilment that answers {status} makes the order service answer "
                        "502"):
                received: list[str | None] = []
                with serve(refusing(status, body, received)) as broken:
                    _fails(services, t, lab, url, broken.url, slow, received,
                           once=status < 500)
        with t.case("a fulfilment nobody answers at (connection refused) makes the order "
                    "service answer 502"):
            _fails(services, t, lab, url, nobody_listening(), slow, None)


def _fails(services: Served, t: Trial, lab: Any, url: dict[str, str], broken: str,
           slow: list[str], received: list[str | None] | None, once: bool = False) -> None:
    """The hop to a broken fulfilment at ``broken`` fails the request: 502, in time, and every
    call it made carried the caller's own Authorization (once, where the refusal is final)."""
    caller = bearer(lab.id_token(TENANTS[0].users[0]))
    url["fulfilment"] = broken
    del slow[:]
    try:
        order_id = place(services, t, caller)
        reply, _ = services.ask("order", "POST", f"/orders/{order_id}/fulfil", headers=caller)
    finally:
        url["fulfilment"] = services.urls["fulfilment"]
    t.expect(not slow, "the hop gives up in time", slow[0] if slow else "", hint=SLOW,
             code_hint="requests.post(..., timeout=5), and no retry loop without an end")
    t.expect(reply.status == 502, "502 from the order service (the hop failed)", str(reply),
             hint=REPORT, code_hint="response.raise_for_status() before return response.json()")
    if received is not None:
        want = [caller["Authorization"]] if once else [caller["Authorization"]] * len(received)
        t.expect(bool(received) and received == want,
                 "fulfilment called " + ("once" if once else "only") + " with the caller's "
                 "Authorization", f"fulfilment received {[short(h, 40) for h in received]}",
                 hint="a refusal is the answer: never try again as someone else (a token of "
                      "your own, x-tenant-id) or with another header.")


def _concurrent(services: Served, t: Trial, lab: Any, table: str) -> None:
    """Several callers of two tenants at once: each fulfilment acts for its own caller (a
    header kept on a shared Session or a global is someone else's by the time it is sent)."""
    callers = [TENANTS[n % 2].users[n % 2] for n in range(8)]
    tokens = {user: lab.id_token(user) for user in set(callers)}
    orders = [place(services, t, bearer(tokens[user])) for user in callers]
    base = services.urls["order"]
    start = threading.Barrier(len(callers))
    del services.headers["fulfilment"][:]

    def call(n: int) -> tuple[int, Any]:
        start.wait(timeout=t.timeout)
        try:
            answer = requests.post(f"{base}/orders/{orders[n]}/fulfil", timeout=t.timeout,
                                   headers=bearer(tokens[callers[n]]))
        except requests.RequestException as error:
            return 0, f"{type(error).__name__}"
        return answer.status_code, (answer.json() if answer.content else None)

    with ThreadPoolExecutor(len(callers)) as pool:
        replies = list(pool.map(call, range(len(callers))))
    got = sorted(short(h, 40) for h in services.headers["fulfilment"])
    want = sorted(short(f"Bearer {tokens[user]}", 40) for user in callers)
    t.expect(got == want, "each caller's own Authorization reached fulfilment, once",
             f"fulfilment received {got}", hint=FORWARD)
    stored = {item.get("sk"): item.get("pk") for item in raw_items(lab, table)}
    for n, (status, body) in enumerate(replies):
        tenant = TENANTS[n % 2].id
        t.expect(status == 200 and stored.get(fulfilment_sk(orders[n])) == tenant_pk(tenant),
                 f"{callers[n]}'s order shipped in {tenant_pk(tenant)}",
                 f"{status} {short(body)}; stored in {stored.get(fulfilment_sk(orders[n]))}",
                 hint=FORWARD)


def _ships(services: Served, t: Trial, lab: Any, user: str, want: TenantContext,
           headers: dict[str, str], table: str, hint: str = FORWARD) -> None:
    order_id = place(services, t, headers)
    services.seen["fulfilment"].clear()
    del services.headers["fulfilment"][:]
    del services.received["fulfilment"][:]
    reply, _ = services.ask("order", "POST", f"/orders/{order_id}/fulfil", headers=headers)
    seen = list(services.seen["fulfilment"])
    got = services.headers["fulfilment"][-1] if services.headers["fulfilment"] else None
    t.expect(reply.status == 200, "200 with the order and its fulfilment", str(reply),
             hint=hint if reply.status == 502 else "return fulfilment's JSON (a dict).",
             sent=f"Authorization of {user}; fulfilment received Authorization {short(got, 50)}")
    t.expect(bool(seen) and all(ctx == want for ctx in seen), f"fulfilment resolved {want}",
             f"fulfilment resolved {short(seen)}", hint=hint)
    t.expect(services.headers["fulfilment"] == [headers["Authorization"]],
             "fulfilment called once, with the caller's Authorization as it came",
             f"fulfilment received {[short(h, 50) for h in services.headers['fulfilment']]}",
             hint=hint)
    extra = sorted(set().union(*services.received["fulfilment"]) & IDENTITY_HEADERS)
    t.expect(not extra, "no tenant or user header besides the token",
             f"fulfilment received {extra}",
             hint="forward only Authorization: a tenant header next to the token is one more "
                  "thing a service might believe, and a caller's lure travels with it.")
    stored = [item for item in raw_items(lab, table)
              if item.get("sk") == fulfilment_sk(order_id)]
    t.expect([item.get("pk") for item in stored] == [tenant_pk(want.tenant_id)],
             f"one fulfilment of {order_id} in {tenant_pk(want.tenant_id)}",
             f"fulfilments of {order_id} in {[item.get('pk') for item in stored]}", hint=hint)
    answer = {k: v for k, v in stored[0].items() if k not in ("pk", "sk")}
    shipped = reply.body.get("fulfilment")
    t.expect(shipped == answer, f"fulfilment's own answer, {short(answer)}", short(shipped),
             hint="return response.json(), what fulfilment answered: the order service puts it "
                  "into its answer, and a reply made up by the hop hides what fulfilment did.",
             code_hint="return response.json()")


