"""The order service: places and lists orders of the calling tenant, in the pooled table.

Placing an order may hand it on to fulfilment: ``fulfil`` is a function of the incoming request
and the stored order that calls the fulfilment service (lab 3 forwards the caller's token there;
lab 4 picks the caller's deployment). Its answer goes into the order's response, and a hop
that fails is reported, not hidden: the order service answers 502 with what fulfilment said.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Flask, jsonify, request

from .collection import add_collection
from .keys import order_sk
from .service import Resolver, current_tenant, tenant_service
from .store import PooledStore

# (incoming flask request, stored order) -> fulfilment's JSON answer, or an exception
Fulfil = Callable[[Any, dict[str, Any]], Any]


def new_order(body: dict[str, Any]) -> dict[str, Any]:
    items = [{"product_id": str(line.get("product_id", "")),
              "quantity": int(line.get("quantity", 1))}
             for line in body.get("items", []) if isinstance(line, dict)]
    return {"items": items, "status": "placed"}


def create_order_service(orders_table, resolve_tenant: Resolver,
                         fulfil: Fulfil | None = None) -> Flask:
    """``orders_table``: a boto3 Table, or a function of the TenantContext returning one."""
    app = tenant_service("order-service", resolve_tenant)
    store = PooledStore(orders_table, order_sk, "order_id")
    add_collection(app, store, "orders", new_order)
    if fulfil is not None:
        add_fulfilment_route(app, store, fulfil)
    return app


def add_fulfilment_route(app: Flask, store: PooledStore, fulfil: Fulfil) -> None:
    """``POST /orders/<id>/fulfil``: the tenant's stored order, handed to ``fulfil``."""

    def fulfil_order(order_id: str):
        order = store.get(current_tenant(), order_id)
        if order is None:
            return jsonify(error="not found", detail=f"no order {order_id!r} for this tenant"), 404
        try:
            answer = fulfil(request, order)
        except NotImplementedError:
            raise
        except Exception as error:  # the downstream hop failed: say so, with its words
            return jsonify(error="fulfilment failed",
                           detail=f"{type(error).__name__}: {error}"), 502
        try:
            return jsonify(order=order, fulfilment=answer), 200
        except TypeError as error:  # the hook handed back something JSON cannot hold
            return jsonify(error="fulfilment failed",
                           detail=f"fulfil returned {type(answer).__name__}, not JSON: "
                                  f"{error}"), 502

    app.add_url_rule("/orders/<order_id>/fulfil", "fulfil_order", fulfil_order,
                     methods=["POST"])
