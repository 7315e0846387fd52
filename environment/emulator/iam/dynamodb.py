"""DynamoDB facts the gate reads from moto itself: key schemas and a Query's partition keys.

A Query's partition key comes from its key condition expression, and the only
parser whose reading counts is the one moto runs: ``pk = :a AND pk = :b`` or
an unusual placeholder must not mean one thing to the gate and another to
moto. So the gate asks moto's own parser, with the table's real schema.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .calls import Unclassifiable
from .principals import ACCOUNT
from .requests import query_leading_keys, typed


def _backend(region: str) -> Any:
    from moto.dynamodb.models import dynamodb_backends

    return dynamodb_backends[ACCOUNT][region]


def hash_key(region: str, table: str, index: str | None) -> str | None:
    """The partition key attribute of a table or index, read from moto's DynamoDB backend."""
    found = _backend(region).tables.get(table)
    if found is None:
        return None
    if index:
        for candidate in found.indexes + found.global_indexes:
            if candidate.name == index:
                return next((k["AttributeName"] for k in candidate.schema
                             if k["KeyType"] == "HASH"), None)
        return None
    return found.hash_key_attr or None


def query_keys(region: str, table: str, index: str | None, params: Mapping[str, Any],
               key_name: str | None) -> list[str]:
    """The partition key values a Query reads, as moto's key condition parser reads them."""
    from moto.dynamodb.parsing.key_condition_expression import parse_expression

    expression = params.get("KeyConditionExpression")
    if not expression:  # the legacy KeyConditions map names each key once: nothing to parse
        return query_leading_keys(region, table, index, params, key_name)
    schema = _backend(region).get_schema(table_name=table, index_name=index)
    conditions, _, _ = parse_expression(
        key_condition_expression=expression,
        expression_attribute_values=params.get("ExpressionAttributeValues") or {},
        expression_attribute_names=params.get("ExpressionAttributeNames") or {},
        schema=schema)
    values = [typed(value) for _, value in conditions]
    if None in values or not values:
        raise Unclassifiable("a Query whose partition key the gate cannot read")
    return [v for v in values if v is not None]
