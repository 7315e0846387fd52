"""What an HTTP request to the emulator asks AWS to do.

Each service speaks one of a few protocols (JSON with X-Amz-Target, form-encoded
query, REST for S3, CBOR for CloudWatch). This module turns a request into a
``Call``: the IAM service prefix, the operation, its parameters, and the region
and access key from the SigV4 signature.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, unquote

CREDENTIAL = re.compile(r"Credential=([^/,\s]+)/\d{8}/([^/]+)/([^/]+)/aws4_request")
IAM_PREFIX = {"monitoring": "cloudwatch", "email": "ses"}
JSON_SERVICES = {"dynamodb", "sqs", "events", "logs", "cognito-idp", "kms", "secretsmanager",
                 "ssm", "kinesis", "lambda"}


@dataclass(frozen=True)
class Signature:
    access_key_id: str
    region: str
    scope_service: str

    @property
    def prefix(self) -> str:
        return IAM_PREFIX.get(self.scope_service, self.scope_service)


@dataclass
class Call:
    service: str  # IAM prefix: dynamodb, s3, sqs, sts, ...
    operation: str  # AWS's name: GetItem, PutObject, AssumeRole, ...
    protocol: str  # "json" | "query" | "rest-xml" | "cbor"
    params: dict[str, Any] = field(default_factory=dict)
    region: str = "us-east-1"
    bucket: str | None = None
    key: str | None = None

    @property
    def action(self) -> str:
        return f"{self.service}:{self.operation}"


def signature(environ: dict[str, Any]) -> Signature | None:
    header = environ.get("HTTP_AUTHORIZATION", "")
    match = CREDENTIAL.search(header)
    if not match:
        query = parse_qs(environ.get("QUERY_STRING", ""))
        credential = query.get("X-Amz-Credential", [""])[0]
        match = CREDENTIAL.search(f"Credential={credential}") if credential else None
    if not match:
        return None
    return Signature(match.group(1), match.group(2), match.group(3))


def needs_body(sig: Signature) -> bool:
    return sig.prefix != "s3"


def parse_call(environ: dict[str, Any], body: bytes, sig: Signature) -> Call:
    target = environ.get("HTTP_X_AMZ_TARGET", "")
    path = environ.get("PATH_INFO", "")
    if sig.prefix == "s3":
        return _s3_call(environ, sig)
    if target:
        params = json.loads(body or b"{}") if body.strip() else {}
        return Call(sig.prefix, target.rsplit(".", 1)[-1], "json", params, sig.region)
    if path.startswith("/service/") and "/operation/" in path:
        return Call(sig.prefix, path.rsplit("/", 1)[-1], "cbor", {}, sig.region)
    form = parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True) if body else {}
    form = form or parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True)
    params = {key: values[0] for key, values in form.items()}
    return Call(sig.prefix, params.get("Action", ""), "query", params, sig.region)


def members(params: dict[str, Any], name: str) -> list[Any]:
    """Query-protocol lists: ``Tags.member.1.Key=...`` becomes ``[{"Key": ...}]``."""
    found: dict[int, Any] = {}
    pattern = re.compile(rf"{re.escape(name)}\.member\.(\d+)(?:\.(\w+))?$")
    for key, value in params.items():
        match = pattern.match(key)
        if match:
            index, field_name = int(match.group(1)), match.group(2)
            if field_name:
                found.setdefault(index, {})[field_name] = value
            else:
                found[index] = value
    return [found[i] for i in sorted(found)]


def _s3_call(environ: dict[str, Any], sig: Signature) -> Call:
    method = environ.get("REQUEST_METHOD", "GET")
    query = parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True)
    path = unquote(environ.get("PATH_INFO", "/"))
    host = (environ.get("HTTP_HOST") or "").split(":")[0]
    labels = host.split(".")
    if len(labels) > 1 and not host.replace(".", "").isdigit() and labels[0] not in (
            "s3", "localhost", "127"):
        bucket, key = labels[0], path.lstrip("/") or None  # virtual-hosted style
    else:
        parts = path.lstrip("/").split("/", 1)
        bucket = parts[0] or None
        key = parts[1] if len(parts) > 1 and parts[1] else None
    params = {k: v[0] for k, v in query.items()}
    operation = _s3_operation(method, bucket, key, query)
    return Call("s3", operation, "rest-xml", params, sig.region, bucket, key)


def _s3_operation(method: str, bucket: str | None, key: str | None,
                  query: dict[str, list[str]]) -> str:
    if bucket is None:
        return "ListAllMyBuckets"
    if key is None:
        if method == "PUT":
            return "CreateBucket" if not query else "PutBucketPolicy" if "policy" in query \
                else "PutBucketConfiguration"
        if method == "DELETE":
            return "DeleteBucket"
        if method == "POST" and "delete" in query:
            return "DeleteObject"
        if "policy" in query:
            return "GetBucketPolicy"
        if "location" in query:
            return "GetBucketLocation"
        return "ListBucket"
    return {"GET": "GetObject", "HEAD": "GetObject", "PUT": "PutObject",
            "DELETE": "DeleteObject", "POST": "PutObject"}.get(method, "GetObject")
