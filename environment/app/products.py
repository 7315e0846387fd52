"""The product service: each tenant's catalogue, in the pooled products table."""

from __future__ import annotations

import uuid

from flask import Flask, abort, jsonify, request

from .keys import product_sk
from .service import Resolver, current_tenant, tenant_service
from .store import PooledStore


def create_product_service(products_table, resolve_tenant: Resolver) -> Flask:
    store = PooledStore(products_table, product_sk, "product_id")
    app = tenant_service("product-service", resolve_tenant)

    @app.post("/products")
    def create_product():
        body = request.get_json(silent=True) or {}
        product = {"product_id": uuid.uuid4().hex[:12], "name": str(body.get("name", "")),
                   "price_cents": int(body.get("price_cents", 0))}
        return jsonify(store.save(current_tenant(), product)), 201

    @app.get("/products")
    def list_products():
        return jsonify(tenant_id=current_tenant().tenant_id,
                       products=store.list(current_tenant()))

    @app.get("/products/<product_id>")
    def get_product(product_id: str):
        product = store.get(current_tenant(), product_id)
        if product is None:
            abort(404)
        return jsonify(product)

    return app
