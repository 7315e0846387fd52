"""Pooled storage for the services: every tenant in one table, partitioned by key."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from boto3.dynamodb.conditions import Key

from .context import TenantContext
from .keys import tenant_pk


@dataclass
class PooledStore:
    """Items of one kind (orders, products) in a pooled table, by tenant.

    ``table`` is a boto3 Table, or a function of the tenant context that returns
    one: that is how a service signs each request with tenant-scoped credentials
    (lab 2) instead of its own broad ones.
    """

    table: Any
    sort_key: Callable[[str], str]
    id_field: str

    def table_for(self, ctx: TenantContext) -> Any:
        return self.table(ctx) if callable(self.table) else self.table

    def save(self, ctx: TenantContext, item: dict[str, Any]) -> dict[str, Any]:
        stored = {**item, "tenant_id": ctx.tenant_id}
        self.table_for(ctx).put_item(Item={**stored, "pk": tenant_pk(ctx.tenant_id),
                                           "sk": self.sort_key(item[self.id_field])})
        return stored

    def list(self, ctx: TenantContext) -> list[dict[str, Any]]:
        prefix = self.sort_key("")
        query = {"KeyConditionExpression": Key("pk").eq(tenant_pk(ctx.tenant_id))
                 & Key("sk").begins_with(prefix)}
        items: list[dict[str, Any]] = []
        table = self.table_for(ctx)
        while True:
            page = table.query(**query)
            items.extend(page["Items"])
            if "LastEvaluatedKey" not in page:
                break
            query["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        return [{k: v for k, v in item.items() if k not in ("pk", "sk")} for item in items]

    def get(self, ctx: TenantContext, item_id: str) -> dict[str, Any] | None:
        found = self.table_for(ctx).get_item(Key={"pk": tenant_pk(ctx.tenant_id),
                                                  "sk": self.sort_key(item_id)}).get("Item")
        return None if found is None else {k: v for k, v in found.items() if k not in ("pk", "sk")}
