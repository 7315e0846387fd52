"""The fulfilment service: ships a tenant's orders; the order service calls it over HTTP.

It resolves the tenant context itself, from the token the caller forwards, exactly as the
order service does: a service that trusted an ``x-tenant-id`` header from its neighbour would
let anyone who can reach it act as any tenant. ``deployment`` names the copy of the service
(``pool`` or a silo's name), which every response carries so a lab can see who served it.
"""

from __future__ import annotations

from typing import Any

from flask import Flask, abort

from .collection import add_collection
from .keys import fulfilment_sk
from .service import Resolver, tenant_service
from .store import PooledStore

DEPLOYMENT_HEADER = "X-Served-By"


def new_fulfilment(body: dict[str, Any]) -> dict[str, Any]:
    return {"order_id": str(body.get("order_id", "")), "status": "shipped"}


def create_fulfilment_service(orders_table, resolve_tenant: Resolver,
                              deployment: str = "pool") -> Flask:
    """``orders_table``: a boto3 Table, or a function of the TenantContext returning one.

    Fulfilments live next to the tenant's orders (``FULFILMENT#<order id>`` under the tenant's
    partition), keyed by the order they ship, so shipping one order twice keeps one record.
    """
    app = tenant_service("fulfilment-service", resolve_tenant)
    store = PooledStore(orders_table, fulfilment_sk, "order_id")

    def make(body: dict[str, Any]) -> dict[str, Any]:
        fulfilment = new_fulfilment(body)
        if not fulfilment["order_id"]:
            abort(400, "a fulfilment names the order it ships: {\"order_id\": ...}")
        return {**fulfilment, "deployment": deployment}  # the order id is the item's id

    add_collection(app, store, "fulfilments", make)

    @app.after_request
    def served_by(response):
        response.headers[DEPLOYMENT_HEADER] = f"fulfilment-service/{deployment}"
        return response

    return app
