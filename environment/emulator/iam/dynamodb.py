"""DynamoDB facts the gate reads from moto itself: key schemas and a Query's partition keys.

A Query's partition key comes from its key condition expression, and the only
parser whose reading counts is the one moto runs: ``pk = :a AND pk = :b`` or
an unusual placeholder must not mean one thing to the gate and another to
moto. So the gate asks moto's own parser, with the table's real schema.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..moto_adapter import key_condition_values
from .calls import Unclassifiable
from .requests import query_leading_keys, typed


def query_keys(region: str, table: str, index: str | None, params: Mapping[str, Any],
               key_name: str | None) -> list[str]:
    """The partition key values a Query reads, as moto's key condition parser reads them."""
    expression = params.get("KeyConditionExpression")
    if not expression:  # the legacy KeyConditions map names each key once: nothing to parse
        return query_leading_keys(region, table, index, params, key_name)
    values = [typed(value) for value in key_condition_values(
        region, table, index, expression, params.get("ExpressionAttributeValues") or {},
        params.get("ExpressionAttributeNames") or {})]
    if None in values or not values:
        raise Unclassifiable("a Query whose partition key the gate cannot read")
    return [v for v in values if v is not None]
