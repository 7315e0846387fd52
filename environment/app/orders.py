"""The order service: places and lists orders of the calling tenant, in the pooled table."""

from __future__ import annotations

import uuid

from flask import Flask, abort, jsonify, request

from .keys import order_sk
from .service import Resolver, current_tenant, tenant_service
from .store import PooledStore


def create_order_service(orders_table, resolve_tenant: Resolver) -> Flask:
    store = PooledStore(orders_table, order_sk, "order_id")
    app = tenant_service("order-service", resolve_tenant)

    @app.post("/orders")
    def place_order():
        body = request.get_json(silent=True) or {}
        items = [{"product_id": str(line.get("product_id", "")),
                  "quantity": int(line.get("quantity", 1))}
                 for line in body.get("items", []) if isinstance(line, dict)]
        order = {"order_id": uuid.uuid4().hex[:12], "items": items, "status": "placed"}
        return jsonify(store.save(current_tenant(), order)), 201

    @app.get("/orders")
    def list_orders():
        return jsonify(tenant_id=current_tenant().tenant_id, orders=store.list(current_tenant()))

    @app.get("/orders/<order_id>")
    def get_order(order_id: str):
        order = store.get(current_tenant(), order_id)
        if order is None:
            abort(404)
        return jsonify(order)

    return app
