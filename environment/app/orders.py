"""The order service: places and lists orders of the calling tenant, in the pooled table."""

from __future__ import annotations

from typing import Any

from flask import Flask

from .collection import add_collection
from .keys import order_sk
from .service import Resolver, tenant_service
from .store import PooledStore


def new_order(body: dict[str, Any]) -> dict[str, Any]:
    items = [{"product_id": str(line.get("product_id", "")),
              "quantity": int(line.get("quantity", 1))}
             for line in body.get("items", []) if isinstance(line, dict)]
    return {"items": items, "status": "placed"}


def create_order_service(orders_table, resolve_tenant: Resolver) -> Flask:
    """``orders_table``: a boto3 Table, or a function of the TenantContext returning one."""
    app = tenant_service("order-service", resolve_tenant)
    add_collection(app, PooledStore(orders_table, order_sk, "order_id"), "orders", new_order)
    return app
