"""The product service: each tenant's catalogue, in the pooled products table."""

from __future__ import annotations

from typing import Any

from flask import Flask

from .collection import add_collection
from .keys import product_sk
from .service import Resolver, tenant_service
from .store import PooledStore


def new_product(body: dict[str, Any]) -> dict[str, Any]:
    return {"name": str(body.get("name", "")), "price_cents": int(body.get("price_cents", 0))}


def create_product_service(products_table, resolve_tenant: Resolver) -> Flask:
    """``products_table``: a boto3 Table, or a function of the TenantContext returning one."""
    app = tenant_service("product-service", resolve_tenant)
    add_collection(app, PooledStore(products_table, product_sk, "product_id"), "products",
                   new_product)
    return app
