"""From a ``Call`` to the authorisation questions AWS would ask about it.

Most calls ask one question (action on resource). DynamoDB batch and
transaction calls ask one per item, as AWS does, each with that item's
partition key in ``dynamodb:LeadingKeys``; a Scan has no leading keys at all,
which is exactly what makes ``ForAllValues`` conditions true for it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import parse_qs, unquote, urlparse

import xmltodict

from .calls import Call, Unclassifiable
from .policy import Request
from .principals import ACCOUNT
from .s3 import extra_actions

KeyLookup = Callable[[str, str, str | None], str | None]  # (region, table, index) -> hash key
# (region, table, index, Query parameters, partition key name) -> the partition keys it reads
QueryKeys = Callable[[str, str, str | None, Mapping[str, Any], str | None], list[str]]
KeyArn = Callable[[str, str], str | None]  # (region, KeyId as sent) -> the key's ARN, or None

NAME = r"#?[\w.\-]+"
EQUALITY = re.compile(rf"({NAME})\s*=\s*(:[\w]+)|(:[\w]+)\s*=\s*({NAME})")
READ_ITEM_OPS = {"GetItem", "DeleteItem", "UpdateItem"}
LISTINGS = {"ListBucket", "ListBucketVersions", "ListBucketMultipartUploads"}  # s3:prefix etc.
# KMS operations that use exactly the one key their KeyId names (an id, ARN or alias): AWS asks
# about that key's ARN. Operations on no key are asked about "*"; every other KMS operation
# (Decrypt and ReEncrypt find their key in the ciphertext, aliases name two resources, grants)
# is one the gate cannot describe, and is refused.
KMS_ONE_KEY = {"Sign", "Verify", "GetPublicKey", "DescribeKey", "Encrypt", "GenerateDataKey",
               "GenerateDataKeyWithoutPlaintext", "GenerateMac", "VerifyMac"}
KMS_NO_KEY = {"CreateKey", "ListKeys", "ListAliases", "GenerateRandom"}
TRANSACT_ACTIONS = {"Put": "PutItem", "Update": "UpdateItem", "Delete": "DeleteItem",
                    "ConditionCheck": "ConditionCheckItem", "Get": "GetItem"}


def table_arn(region: str, table: str, index: str | None = None) -> str:
    arn = f"arn:aws:dynamodb:{region}:{ACCOUNT}:table/{table}"
    return f"{arn}/index/{index}" if index else arn


def typed(value: Any) -> str | None:
    """The string form of a DynamoDB attribute value ({"S": "x"} -> "x")."""
    if not isinstance(value, dict) or not value:
        return None
    kind, raw = next(iter(value.items()))
    return str(raw) if kind in ("S", "N", "B") else None


def authorizations(call: Call, hash_key: KeyLookup,
                   query_keys: QueryKeys | None = None,
                   kms_key: KeyArn | None = None) -> list[Request]:
    """The questions for one call (empty when AWS asks none, as for GetCallerIdentity).

    ``query_keys`` reads a Query's partition keys; the gate passes moto's own key condition
    parser, so the keys it authorises are the keys moto will read; ``kms_key`` resolves a
    KMS KeyId the way moto will (aliases included).
    """
    if call.service == "sts" and call.operation == "GetCallerIdentity":
        return []
    if call.service == "dynamodb":
        return _dynamodb(call, hash_key, query_keys or query_leading_keys)
    if call.service == "s3":
        return _s3(call)
    if call.service == "logs":
        return _logs(call)
    if call.service == "cloudwatch" and call.operation == "PutMetricData":
        # the one condition key CloudWatch offers for scoping who writes which metrics
        return [Request(call.action, "*", {**_service_context(call),
                                           "cloudwatch:namespace": call.params.get("Namespace")})]
    if call.service == "events" and call.operation == "PutEvents":
        return [Request(call.action, bus, _service_context(call)) for bus in _event_buses(call)]
    if call.service == "kms":
        return [Request(call.action, _kms_key(call, kms_key), _service_context(call))]
    return [Request(call.action, _resource(call), _service_context(call))]


def _resource(call: Call) -> str:
    p, region = call.params, call.region
    if call.resolved != "*":  # moto found the queue or role itself: no second reading
        return call.resolved
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
    if call.service == "events" and p.get("Name"):
        return f"arn:aws:events:{region}:{ACCOUNT}:rule/{p['Name']}"
    if call.service == "cognito-idp" and p.get("UserPoolId"):
        return f"arn:aws:cognito-idp:{region}:{ACCOUNT}:userpool/{p['UserPoolId']}"
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
    return {"aws:RequestedRegion": call.region}


def _event_buses(call: Call) -> list[str]:
    """PutEvents writes to the bus of each entry: every bus is a resource of the call."""
    names = {e.get("EventBusName") or "default" for e in call.params.get("Entries") or []}
    return [bus if bus.startswith("arn:") else
            f"arn:aws:events:{call.region}:{ACCOUNT}:event-bus/{bus}"
            for bus in sorted(names or {"default"})]


# --- CloudWatch Logs ---------------------------------------------------------------------------

LOG_STREAM_OPS = {"PutLogEvents", "GetLogEvents", "DeleteLogStream"}  # resource: the stream
LOG_GROUP_ARN = re.compile(r"^arn:aws:logs:([^:]*):([^:]*):log-group:([^:]+)(?::\*)?$")


def _logs(call: Call) -> list[Request]:
    """One question per log group the call names, in every parameter moto may read it from
    (a query over three groups asks three times); streams where AWS authorises the stream."""
    p, region, context = call.params, call.region, _service_context(call)
    named = [p.get("logGroupName"), p.get("logGroupIdentifier"),
             *(p.get("logGroupNames") or []), *(p.get("logGroupIdentifiers") or [])]
    if ":log-group:" in str(p.get("resourceArn") or ""):  # TagResource, ListTagsForResource
        named.append(p["resourceArn"])
    groups = sorted({_log_group(region, g) for g in named if g})
    if not groups:
        return [Request(call.action, "*", context)]
    stream = p.get("logStreamName") if call.operation in LOG_STREAM_OPS else None
    if call.operation in LOG_STREAM_OPS and not stream:
        raise Unclassifiable(f"a {call.operation} without a logStreamName")
    suffix = f":log-stream:{stream}" if stream else ""
    return [Request(call.action, f"arn:aws:logs:{region}:{ACCOUNT}:log-group:{g}{suffix}",
                    context) for g in groups]


def _log_group(region: str, identifier: Any) -> str:
    """A log group's name from its name or ARN; an ARN elsewhere is refused."""
    if not isinstance(identifier, str):
        raise Unclassifiable("a log group named by something other than a string")
    if not identifier.startswith("arn:"):
        return identifier
    match = LOG_GROUP_ARN.match(identifier)
    if match is None or match.group(1) != region or match.group(2) != ACCOUNT:
        raise Unclassifiable(f"{identifier!r} is not the ARN of a log group of this account "
                             "and region")
    return match.group(3)


def _kms_key(call: Call, kms_key: KeyArn | None) -> str:
    """The ARN of the one key a KMS call uses ("*" for calls on no key), or Unclassifiable."""
    if call.operation in KMS_NO_KEY:
        return "*"
    if call.operation not in KMS_ONE_KEY:
        raise Unclassifiable(f"kms:{call.operation} is not one the lab's IAM gate can describe")
    key_id = call.params.get("KeyId")
    if not isinstance(key_id, str) or not key_id:
        raise Unclassifiable(f"a kms:{call.operation} without a KeyId")
    arn = kms_key(call.region, key_id) if kms_key else (key_id if ":key/" in key_id else None)
    if arn is None:
        raise Unclassifiable(f"{key_id!r} is no KMS key of this account and region")
    return arn


# --- S3 ----------------------------------------------------------------------------------------


def object_arn(bucket: str, key: str | None = None) -> str:
    return f"arn:aws:s3:::{bucket}" + (f"/{key}" if key else "")


def _s3(call: Call) -> list[Request]:
    """Every bucket and object the request touches: copy sources, form keys, deleted keys."""
    context = _service_context(call)
    if call.bucket is None:
        return [Request(call.action, "*", context)]
    if call.operation in LISTINGS:
        for name in ("prefix", "delimiter", "max-keys"):  # from the URL, where moto reads them
            if name in call.query:
                context[f"s3:{name}"] = call.query[name]
    if call.method == "POST" and call.key is None and call.operation == "DeleteObject":
        return [Request(action, object_arn(call.bucket, key), context)
                for key, action in _deleted_keys(call.body)]
    key = call.key
    if call.method == "POST" and key is None and call.operation == "PutObject":
        key = call.params.get("key")  # a browser form upload names its object in a form field
        if not key:
            raise Unclassifiable("a form upload without a key field")
    questions = [Request(action, object_arn(call.bucket, key), context) for action in
                 [call.action, *extra_actions(call.method, call.operation, call.headers,
                                              call.params)]]
    source = call.headers.get("x-amz-copy-source")
    if source and call.method == "PUT":
        questions += _copy_source(source, context)
    return questions


def _copy_source(header: str, context: dict[str, Any]) -> list[Request]:
    """Reading the source of CopyObject/UploadPartCopy, parsed the way moto parses it."""
    parsed = urlparse(header)
    bucket, _, key = unquote(parsed.path).lstrip("/").partition("/")
    if not bucket or not key:
        raise Unclassifiable(f"the copy source {header!r} names no object")
    version = parse_qs(parsed.query).get("versionId")
    action = "s3:GetObjectVersion" if version else "s3:GetObject"
    return [Request(action, object_arn(bucket, key), context)]


def _deleted_keys(body: bytes) -> list[tuple[str, str]]:
    """The keys of a DeleteObjects request, read with the XML parser moto uses for it."""
    objects = (xmltodict.parse(body, strip_whitespace=False).get("Delete") or {}).get(
        "Object", [])
    objects = objects if isinstance(objects, list) else [objects]
    if not objects:
        raise Unclassifiable("a DeleteObjects request without objects")
    return [(o["Key"], "s3:DeleteObjectVersion" if o.get("VersionId") else "s3:DeleteObject")
            for o in objects]


# --- DynamoDB ----------------------------------------------------------------------------------


def table_name(region: str, table: str) -> str:
    """A table's name; DynamoDB (and moto) also accept the table's ARN in its place."""
    if not table.startswith("arn:"):
        return table
    name = table.rsplit("/", 1)[-1] if ":table/" in table else ""
    if not name or table != table_arn(region, name):
        raise Unclassifiable(f"{table!r} is not the ARN of a table of this account and region")
    return name


def _dynamodb(call: Call, hash_key: KeyLookup, query_keys: QueryKeys) -> list[Request]:
    p, op, region = call.params, call.operation, call.region
    base = {"aws:RequestedRegion": region}
    if op == "BatchGetItem":
        questions = [_item(call.action, region, table, key, hash_key, base,
                           _attributes(spec, "GetItem"))
                     for table, spec in (p.get("RequestItems") or {}).items()
                     for key in spec.get("Keys") or []]
    elif op == "BatchWriteItem":
        questions = [_item(call.action, region, table, _written(w), hash_key, base)
                     for table, writes in (p.get("RequestItems") or {}).items() for w in writes]
    if op in ("BatchGetItem", "BatchWriteItem"):
        if not questions:
            raise Unclassifiable(f"a {op} without items")
        return questions
    if op in ("TransactWriteItems", "TransactGetItems"):
        questions = []
        for entry in p.get("TransactItems") or []:
            for kind, spec in entry.items():
                action = TRANSACT_ACTIONS.get(kind)
                if action is None:
                    raise Unclassifiable(f"a transaction item of unknown kind {kind!r}")
                # moto reads Item for a Put and Key for every other kind: so does the gate
                item = spec.get("Item") if kind == "Put" else spec.get("Key")
                questions.append(_item(f"dynamodb:{action}", region, spec.get("TableName", ""),
                                       item, hash_key, base, _attributes(spec, action)))
        if not questions:
            raise Unclassifiable("a transaction without items")
        return questions
    table = p.get("TableName")
    if not table:
        return [Request(call.action, "*", base)]
    table = table_name(region, table)
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
    leading: list[str] = []
    if op == "PutItem":
        leading = _leading(p.get("Item"), key_name)
    elif op in READ_ITEM_OPS:
        leading = _leading(p.get("Key"), key_name)
        if key_name and key_name in (p.get("AttributeUpdates") or {}):
            # DynamoDB refuses to change a key attribute; moto's legacy path would move the item
            raise Unclassifiable(f"an update of the partition key {key_name!r}")
    elif op == "Query":
        leading = query_keys(region, table, index, p, key_name) if key_name else []
    if leading:
        context["dynamodb:LeadingKeys"] = leading
    return [Request(call.action, table_arn(region, table, index), context)]


def _leading(item: Mapping[str, Any] | None, key_name: str | None) -> list[str]:
    """The partition key value of an item or key; one the gate cannot read is refused."""
    if not item or not key_name or key_name not in item:
        return []
    value = typed(item[key_name])
    if value is None:
        raise Unclassifiable(f"the partition key {key_name!r} is not a string, number or binary")
    return [value]


def _written(write: dict[str, Any]) -> dict[str, Any] | None:
    """The item a BatchWriteItem entry writes or the key it deletes, as moto reads them."""
    if "PutRequest" in write:
        return write["PutRequest"].get("Item")
    if "DeleteRequest" in write:
        return write["DeleteRequest"].get("Key")
    raise Unclassifiable("a BatchWriteItem entry that neither puts nor deletes")


def _item(action: str, region: str, table: str, item: dict | None, hash_key: KeyLookup,
          base: dict[str, Any], attributes: list[str] | None = None) -> Request:
    context = dict(base)
    if attributes:
        context["dynamodb:Attributes"] = attributes
    table = table_name(region, table)
    leading = _leading(item, hash_key(region, table, None))
    if leading:
        context["dynamodb:LeadingKeys"] = leading
    return Request(action, table_arn(region, table), context)


def query_leading_keys(region: str, table: str, index: str | None,
                        p: Mapping[str, Any], key_name: str | None) -> list[str]:
    """Every value a Query compares its partition key with (where moto's parser is absent:
    the checks evaluate lab 2 policies in-process).

    Every equality counts, not only the first: a condition that names the key twice
    must have both values allowed.
    """
    names = p.get("ExpressionAttributeNames") or {}
    values = p.get("ExpressionAttributeValues") or {}
    found = []
    for match in EQUALITY.finditer(p.get("KeyConditionExpression") or ""):
        name, placeholder = (match.group(1), match.group(2)) if match.group(1) else (
            match.group(4), match.group(3))
        if names.get(name, name) == key_name:
            found.append(typed(values.get(placeholder)))
    legacy = (p.get("KeyConditions") or {}).get(key_name)
    if legacy and legacy.get("ComparisonOperator") == "EQ":
        found.append(typed((legacy.get("AttributeValueList") or [None])[0]))
    if None in found:
        raise Unclassifiable("a partition key compared with a value the gate cannot read")
    return [v for v in found if v is not None]


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
    if op == "UpdateItem":
        found += list((p.get("AttributeUpdates") or {}).keys())
        found += [names.get(n, n) for n in updated_names(p.get("UpdateExpression") or "")]
    return sorted(set(found))


UPDATE_WORDS = {"set", "remove", "add", "delete"}
PATH_START = re.compile(r"(?<![:\w#.])(#?[A-Za-z_][\w]*)(\s*\()?")


def updated_names(expression: str) -> list[str]:
    """The top-level attribute names an UpdateExpression touches (not its :values, not the
    functions it calls, not the nested parts of a path)."""
    if not isinstance(expression, str):
        raise Unclassifiable("an UpdateExpression that is not a string")
    return [m.group(1) for m in PATH_START.finditer(expression)
            if not m.group(2) and m.group(1).lower() not in UPDATE_WORDS]
