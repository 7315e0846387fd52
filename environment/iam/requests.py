"""From a ``Call`` to the authorisation questions AWS would ask about it.

Most calls ask one question (action on resource). DynamoDB batch and
transaction calls ask one per item, as AWS does, each with that item's
partition key in ``dynamodb:LeadingKeys``; a Scan has no leading keys at all,
which is exactly what makes ``ForAllValues`` conditions true for it.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any
from urllib.parse import urlparse

from .calls import Call
from .policy import Request
from .principals import ACCOUNT

KeyLookup = Callable[[str, str, str | None], str | None]  # (region, table, index) -> hash key

NAME = r"#?[\w.\-]+"
EQUALITY = re.compile(rf"({NAME})\s*=\s*(:[\w]+)|(:[\w]+)\s*=\s*({NAME})")
READ_ITEM_OPS = {"GetItem", "DeleteItem", "UpdateItem"}


def table_arn(region: str, table: str, index: str | None = None) -> str:
    arn = f"arn:aws:dynamodb:{region}:{ACCOUNT}:table/{table}"
    return f"{arn}/index/{index}" if index else arn


def typed(value: Any) -> str | None:
    """The string form of a DynamoDB attribute value ({"S": "x"} -> "x")."""
    if not isinstance(value, dict) or not value:
        return None
    kind, raw = next(iter(value.items()))
    return str(raw) if kind in ("S", "N", "B") else None


def authorizations(call: Call, hash_key: KeyLookup) -> list[Request]:
    """The questions for one call (empty when AWS asks none, as for GetCallerIdentity)."""
    if call.service == "sts" and call.operation == "GetCallerIdentity":
        return []
    if call.service == "dynamodb":
        return _dynamodb(call, hash_key)
    return [Request(call.action, _resource(call), _service_context(call))]


def _resource(call: Call) -> str:
    p, region = call.params, call.region
    if call.service == "s3":
        if call.bucket is None:
            return "*"
        return f"arn:aws:s3:::{call.bucket}" + (f"/{call.key}" if call.key else "")
    if call.service == "sqs":
        if p.get("QueueUrl"):
            name = urlparse(p["QueueUrl"]).path.rstrip("/").rsplit("/", 1)[-1]
            return f"arn:aws:sqs:{region}:{ACCOUNT}:{name}"
        if p.get("QueueName"):
            return f"arn:aws:sqs:{region}:{ACCOUNT}:{p['QueueName']}"
    if call.service == "sns":
        if p.get("TopicArn") or p.get("TargetArn"):
            return p.get("TopicArn") or p["TargetArn"]
        if call.operation == "CreateTopic" and p.get("Name"):
            return f"arn:aws:sns:{region}:{ACCOUNT}:{p['Name']}"
    if call.service == "events":
        if call.operation == "PutEvents":
            buses = {e.get("EventBusName") or "default" for e in p.get("Entries", [])} or {
                "default"}
            bus = sorted(buses)[0]
            return bus if bus.startswith("arn:") else \
                f"arn:aws:events:{region}:{ACCOUNT}:event-bus/{bus}"
        if p.get("Name"):
            return f"arn:aws:events:{region}:{ACCOUNT}:rule/{p['Name']}"
    if call.service == "sts" and p.get("RoleArn"):
        return p["RoleArn"]
    if call.service == "iam":
        if p.get("RoleName"):
            return f"arn:aws:iam::{ACCOUNT}:role/{p['RoleName']}"
        if p.get("UserName"):
            return f"arn:aws:iam::{ACCOUNT}:user/{p['UserName']}"
        if p.get("PolicyArn"):
            return p["PolicyArn"]
    return "*"


def _service_context(call: Call) -> dict[str, Any]:
    context: dict[str, Any] = {"aws:RequestedRegion": call.region}
    if call.service == "s3" and call.operation == "ListBucket":
        for name in ("prefix", "delimiter", "max-keys"):
            if name in call.params:
                context[f"s3:{name}"] = call.params[name]
    return context


# --- DynamoDB ----------------------------------------------------------------------------------


def _dynamodb(call: Call, hash_key: KeyLookup) -> list[Request]:
    p, op, region = call.params, call.operation, call.region
    base = {"aws:RequestedRegion": region}
    if op == "BatchGetItem":
        return [_item(call.action, region, table, key, hash_key, base)
                for table, spec in p.get("RequestItems", {}).items()
                for key in spec.get("Keys", [])] or [Request(call.action, "*", base)]
    if op == "BatchWriteItem":
        return [_item(call.action, region, table,
                      (w.get("PutRequest") or {}).get("Item") or (w.get("DeleteRequest") or {}
                                                                  ).get("Key"), hash_key, base)
                for table, writes in p.get("RequestItems", {}).items() for w in writes]
    if op in ("TransactWriteItems", "TransactGetItems"):
        questions = []
        for entry in p.get("TransactItems", []):
            for kind, spec in entry.items():
                action = {"Put": "PutItem", "Update": "UpdateItem", "Delete": "DeleteItem",
                          "ConditionCheck": "ConditionCheckItem", "Get": "GetItem"}.get(kind)
                if action:
                    questions.append(_item(f"dynamodb:{action}", region, spec.get("TableName", ""),
                                           spec.get("Item") or spec.get("Key"), hash_key, base))
        return questions
    table = p.get("TableName")
    if not table:
        return [Request(call.action, "*", base)]
    index = p.get("IndexName") if op in ("Query", "Scan") else None
    context = dict(base)
    attributes = _attributes(p, op)
    if attributes:
        context["dynamodb:Attributes"] = attributes
    if p.get("Select"):
        context["dynamodb:Select"] = p["Select"]
    if p.get("ReturnValues"):
        context["dynamodb:ReturnValues"] = p["ReturnValues"]
    key_name = hash_key(region, table, index)
    leading = None
    if op == "PutItem":
        leading = typed((p.get("Item") or {}).get(key_name or ""))
    elif op in READ_ITEM_OPS:
        leading = typed((p.get("Key") or {}).get(key_name or ""))
    elif op == "Query":
        leading = _query_leading_key(p, key_name)
    if leading is not None:
        context["dynamodb:LeadingKeys"] = [leading]
    return [Request(call.action, table_arn(region, table, index), context)]


def _item(action: str, region: str, table: str, item: dict | None, hash_key: KeyLookup,
          base: dict[str, Any]) -> Request:
    context = dict(base)
    value = typed((item or {}).get(hash_key(region, table, None) or ""))
    if value is not None:
        context["dynamodb:LeadingKeys"] = [value]
    return Request(action, table_arn(region, table), context)


def _query_leading_key(p: dict[str, Any], key_name: str | None) -> str | None:
    if key_name is None:
        return None
    names = p.get("ExpressionAttributeNames", {})
    values = p.get("ExpressionAttributeValues", {})
    for match in EQUALITY.finditer(p.get("KeyConditionExpression", "")):
        name, placeholder = (match.group(1), match.group(2)) if match.group(1) else (
            match.group(4), match.group(3))
        if names.get(name, name) == key_name:
            return typed(values.get(placeholder))
    legacy = p.get("KeyConditions", {}).get(key_name)
    if legacy and legacy.get("ComparisonOperator") == "EQ":
        return typed((legacy.get("AttributeValueList") or [None])[0])
    return None


def _attributes(p: dict[str, Any], op: str) -> list[str]:
    names = p.get("ExpressionAttributeNames", {})
    found: list[str] = []
    for part in (p.get("ProjectionExpression") or "").split(","):
        top = re.split(r"[.\[]", part.strip(), maxsplit=1)[0]
        if top:
            found.append(names.get(top, top))
    found += list(p.get("AttributesToGet", []))
    if op == "PutItem":
        found += list((p.get("Item") or {}).keys())
    return sorted(set(found))
