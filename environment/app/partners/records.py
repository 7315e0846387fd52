"""Where a payment's idempotency and status record lives: next to the tenant's orders.

``TENANT#<tenant>`` / ``PAYMENT#<order id>`` in the pooled orders table: one record per order
and tenant (two tenants' order ``o-1`` are two records), inside the tenant's partition, so
lab 2's ``dynamodb:LeadingKeys`` policy scopes it like every other row of that tenant.
"""

from __future__ import annotations

from ..keys import tenant_pk

STATUSES = ("pending", "paid", "failed")


def payment_sk(order_id: str) -> str:
    return f"PAYMENT#{order_id}"


def payment_key(tenant_id: str, order_id: str) -> dict[str, str]:
    return {"pk": tenant_pk(tenant_id), "sk": payment_sk(order_id)}
