"""The tenant -> deployment mapping (lab 4), as items of the ``routes`` table.

The reference workshop keeps a tenant stack mapping: which deployment (the shared pool, or a
tenant's own silo) serves each tenant. Here it is one item per tenant, ``TENANT#<id>`` /
``ROUTE``, with the tenant's ``deployment`` and ``tier``. A router looks the caller's tenant up
and refuses a tenant it does not find: there is no default route, so a tenant that was never
onboarded (or a token of another system) reaches nothing.

The table itself is declared in ``infrastructure.TABLES`` (``tables`` creates it); this kind
only writes the items, so it runs after ``tables``, and teardown leaves the table to them.
"""

from __future__ import annotations

from typing import Any

from ..settings import Settings
from .tenants import TENANTS, Tenant

SERVICE = "dynamodb"
TABLE = "routes"
SORT_KEY = "ROUTE"


def route_key(tenant_id: str) -> dict[str, str]:
    """The key of a tenant's route item."""
    return {"pk": f"TENANT#{tenant_id}", "sk": SORT_KEY}


def route_item(tenant: Tenant) -> dict[str, Any]:
    return {**route_key(tenant.id), "tenant_id": tenant.id, "tier": tenant.tier,
            "deployment": tenant.deployment_name}


def ensure(settings: Settings) -> None:
    """Write every tenant's route (idempotent: a put replaces an edited route)."""
    table = settings.resource("dynamodb").Table(settings.name(TABLE))
    with table.batch_writer() as batch:
        for tenant in TENANTS:
            batch.put_item(Item=route_item(tenant))


def teardown(settings: Settings) -> list[str]:
    """Nothing of its own: the routes go with their table (``tables.teardown``)."""
    return []
