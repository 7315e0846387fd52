"""The three sample services served for a check, each with a resolver that records contexts.

A check hands the same learner function to the order, product and fulfilment services (or
the kit's resolver, where the exercise is about something else) and wraps it in a thin layer
of its own that remembers what each request resolved to: the check then compares whole
contexts per service, not only what a response shows.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from typing import Any

import requests

from environment.app.fulfilment import create_fulfilment_service
from environment.app.orders import Fulfil, create_order_service
from environment.app.products import create_product_service
from environment.app.serving import serve

from ..answers import Reply
from ..framework import NotStarted, Trial

SERVICES = ("order", "product", "fulfilment")
# Where each service creates an item (a POST every service answers with 201).
CREATE = {"order": ("/orders", {"items": []}), "product": ("/products", {"name": "probe"}),
          "fulfilment": ("/fulfilments", {"order_id": "probe"})}


@dataclass
class Served:
    """Running services by name, and per service the contexts its resolver returned."""

    t: Trial
    urls: dict[str, str] = field(default_factory=dict)
    seen: dict[str, list[Any]] = field(default_factory=dict)
    headers: dict[str, list[str | None]] = field(default_factory=dict)  # Authorization received
    received: dict[str, list[set[str]]] = field(default_factory=dict)  # header names received
    started: bool = False  # a request was served: a NotImplementedError now is a refusal

    def ask(self, service: str, method: str, path: str, learner: bool = True,
            **kwargs: Any) -> tuple[Reply, Any]:
        """One request to one service; the reply and the context it resolved (or None).

        ``learner=False`` for a request the learner's code does not serve (3.2 places its order
        through the kit's own resolver): its success says nothing about whether they started."""
        self.seen[service].clear()
        try:
            reply = Reply(requests.request(method, self.urls[service] + path,
                                           timeout=self.t.timeout, **kwargs))
        except requests.Timeout:
            self.t.expect(False, f"an answer from the {service} service",
                          f"no answer within {self.t.timeout:g} s: does your function hang?")
        if reply.status == 501 and not self.started:
            raise NotStarted(reply.body.get("detail", ""))
        self.started = self.started or (learner and reply.status < 300)
        seen = self.seen[service]
        return reply, (seen[-1] if seen else None)

    def create(self, service: str, **kwargs: Any) -> tuple[Reply, Any]:
        path, body = CREATE[service]
        return self.ask(service, "POST", path, json=body, **kwargs)


def recording(resolver: Callable, seen: list[Any], headers: list[str | None],
              received: list[set[str]] | None = None) -> Callable:
    def resolve(request):
        headers.append(request.headers.get("Authorization"))
        if received is not None:
            received.append({name.lower() for name in request.headers.keys()})
        context = resolver(request)
        seen.append(context)
        return context

    return resolve


@contextmanager
def served(t: Trial, table: Any, resolvers: dict[str, Callable],
           fulfil: Fulfil | None = None) -> Iterator[Served]:
    """Serve the named services (``order``, ``product``, ``fulfilment``) on free ports."""
    found = Served(t)
    with ExitStack() as stack:
        for name, resolver in resolvers.items():
            found.seen[name], found.headers[name], found.received[name] = [], [], []
            resolve = recording(resolver, found.seen[name], found.headers[name],
                                found.received[name])
            if name == "order":
                app = create_order_service(table, resolve, fulfil)
            elif name == "product":
                app = create_product_service(table, resolve)
            else:
                app = create_fulfilment_service(table, resolve)
            found.urls[name] = stack.enter_context(serve(app)).url
        yield found


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
