"""The REST routes every pooled collection (orders, products) shares.

POST creates an item for the calling tenant, GET lists the tenant's items,
GET /<id> reads one: the tenant always comes from the resolved context, never
from the request, so a service cannot get this wrong one route at a time.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from flask import Flask, abort, jsonify, request

from .service import current_tenant
from .store import PooledStore


def new_id() -> str:
    return uuid.uuid4().hex[:12]


def add_collection(app: Flask, store: PooledStore, collection: str,
                   make_item: Callable[[dict[str, Any]], dict[str, Any]]) -> None:
    """Routes for ``/<collection>``; ``make_item`` turns a request body into a new item."""

    def create():
        body = request.get_json(silent=True)
        item = make_item(body if isinstance(body, dict) else {})
        return jsonify(store.save(current_tenant(), {store.id_field: new_id(), **item})), 201

    def list_all():
        return jsonify({"tenant_id": current_tenant().tenant_id,
                        collection: store.list(current_tenant())})

    def get_one(item_id: str):
        item = store.get(current_tenant(), item_id)
        if item is None:
            abort(404)
        return jsonify(item)

    app.add_url_rule(f"/{collection}", f"create_{collection}", create, methods=["POST"])
    app.add_url_rule(f"/{collection}", f"list_{collection}", list_all, methods=["GET"])
    app.add_url_rule(f"/{collection}/<item_id>", f"get_{collection}", get_one, methods=["GET"])
