"""Check 3.2: the order service forwards the caller's Authorization to fulfilment.

The check serves the fulfilment service with the kit's own resolver (so 3.1 does not decide
3.2) behind a recording wrapper, and the order service with the learner's hop as its ``fulfil``
hook. For every tenant, a second user included, fulfilment must resolve the caller's whole
context from the token the hop forwarded, and the shipment must land in that tenant's
partition (read back with the kit's own client). A fulfilment that refuses must make the
order service answer 502, not a success with an error inside.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Flask, jsonify

from environment.account.tenants import TENANTS
from environment.app.auth import tenant_resolver
from environment.app.context import TenantContext
from environment.app.keys import fulfilment_sk, tenant_pk
from environment.app.serving import serve

from ..framework import NotStarted, Raised, TimedOut, Trial, call_with_timeout, exercise, short
from ..scratch import fresh_table, raw_items
from .services import Served, bearer, served

USERS = [(TENANTS[0].users[1], TENANTS[0]), (TENANTS[1].users[0], TENANTS[1]),
         (TENANTS[2].users[1], TENANTS[2]), (TENANTS[3].users[0], TENANTS[3])]
FORWARD = ("forward the caller's own Authorization header, as it came: fulfilment verifies it "
           "and derives the context itself; a token of your own, an x-tenant-id header or a "
           "header remembered from an earlier request makes it act for someone else.")
REPORT = ("a hop that fails must fail the request: raise when fulfilment does not answer 2xx "
          "(response.raise_for_status()), so the order service answers 502 instead of "
          "pretending the order ships.")


def hop(learner: Callable, url: dict[str, str], timeout: float) -> Callable:
    """The order service's fulfil hook: the learner's function, with a time limit."""

    def fulfil(request, order: dict[str, Any]) -> Any:
        real = getattr(request, "_get_current_object", lambda: request)()
        try:
            # less than the check's own HTTP timeout, so that a hang is reported as the hop's
            return call_with_timeout(learner, real, order, url["fulfilment"],
                                     timeout=timeout * 0.7)
        except NotStarted as stub:
            raise NotImplementedError(str(stub)) from None
        except Raised as raised:
            raise RuntimeError(f"{raised}{raised.where}") from None
        except TimedOut as slow:
            raise RuntimeError(f"your function {slow}") from None

    return fulfil


def refusing(status: int) -> Flask:
    """A fulfilment service that answers every request with ``status``."""
    app = Flask(f"fulfilment-{status}")

    @app.route("/<path:anything>", methods=["GET", "POST"])
    def refuse(anything: str):
        return jsonify(error="refused", detail=f"fulfilment answers {status}"), status

    return app


def place(services: Served, t: Trial, headers: dict[str, str]) -> str:
    reply, _ = services.ask("order", "POST", "/orders", json={"items": [
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
    with served(t, scratch.table, resolvers, hop(fulfil, url, t.timeout)) as services:
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
        for status in (401, 403, 500, 503):
            with t.case(f"a fulfilment that answers {status} makes the order service answer "
                        "502"):
                with serve(refusing(status)) as broken:
                    url["fulfilment"] = broken.url
                    try:
                        order_id = place(services, t, bearer(lab.id_token(alice)))
                        reply, _ = services.ask("order", "POST", f"/orders/{order_id}/fulfil",
                                                headers=bearer(lab.id_token(alice)))
                    finally:
                        url["fulfilment"] = services.urls["fulfilment"]
                t.expect(reply.status == 502, "502 from the order service (the hop failed)",
                         str(reply), hint=REPORT,
                         code_hint="response.raise_for_status() before return response.json()")


def _ships(services: Served, t: Trial, lab: Any, user: str, want: TenantContext,
           headers: dict[str, str], table: str, hint: str = FORWARD) -> None:
    order_id = place(services, t, headers)
    services.seen["fulfilment"].clear()
    reply, _ = services.ask("order", "POST", f"/orders/{order_id}/fulfil", headers=headers)
    seen = list(services.seen["fulfilment"])
    got = services.headers["fulfilment"][-1] if services.headers["fulfilment"] else None
    t.expect(reply.status == 200, "200 with the order and its fulfilment", str(reply),
             hint=hint if reply.status == 502 else "return fulfilment's JSON (a dict).",
             sent=f"Authorization of {user}; fulfilment received Authorization {short(got, 50)}")
    t.expect(bool(seen) and all(ctx == want for ctx in seen), f"fulfilment resolved {want}",
             f"fulfilment resolved {short(seen)}", hint=hint)
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


