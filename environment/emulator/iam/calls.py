"""What moto is about to execute, read from moto's own request handling.

The gate does not parse HTTP requests itself. It is called from inside moto's
dispatch (see ``hook``), after moto has chosen the service, decoded the body
and resolved the operation; a ``Call`` is built from that same request
(``moto_adapter.MotoRequest``): the operation moto resolved, every parameter
read the way moto's handlers read it, the region moto will use. Two readings of one
request (the gate's and moto's) are therefore impossible by construction.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from ..moto_adapter import S3_ACTIONS, MotoRequest

# The wire protocol of a request, which decides the format of a denial.
Protocol = Literal["json", "query", "rest-xml", "cbor"]

CBOR_PATH = re.compile(r"^/service/[^/]+/operation/[^/]+$")


class Unclassifiable(Exception):
    """The gate cannot tell what the request does: it is denied, never forwarded."""


@dataclass
class Call:
    """One operation as moto will run it."""

    service: str  # IAM prefix: dynamodb, s3, sqs, sts, ...
    operation: str  # AWS's name: GetItem, PutObject, AssumeRole, ...
    protocol: Protocol
    params: Mapping[str, Any] = field(default_factory=dict)
    region: str = "us-east-1"
    bucket: str | None = None
    key: str | None = None
    method: str = "POST"
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""
    resolved: str = "*"  # the resource ARN moto itself resolved (SQS queues, IAM roles)
    query: Mapping[str, str] = field(default_factory=dict)  # S3: the URL's query, as moto reads it

    @property
    def action(self) -> str:
        return f"{self.service}:{self.operation}"


def protocol_of(service: str, headers: Mapping[str, str], path: str) -> Protocol:
    """The wire protocol of a request, which decides the format of its error response."""
    if service == "s3":
        return "rest-xml"
    if CBOR_PATH.match(path):
        return "cbor"
    if headers.get("X-Amz-Target") or headers.get("x-amz-target"):
        return "json"
    return "query"


def _bucket_and_key(resource: str) -> tuple[str | None, str | None]:
    """moto's S3 resource ``arn:aws:s3:::bucket/key`` (bucket ``*`` when there is none)."""
    path = resource.split(":::", 1)[-1]
    bucket, _, key = path.partition("/")
    return (None if bucket in ("", "*") else bucket), (key or None)


def from_moto(request: MotoRequest, resource: str) -> Call:
    """The ``Call`` moto is about to execute; Unclassifiable if it is not one AWS defines."""
    service, operation = request.service, request.operation
    if not service or not operation:
        raise Unclassifiable("the operation of the request is unknown")
    call = Call(service, operation, protocol_of(service, request.headers, request.path),
                request.params, request.region, method=request.method,
                headers=request.headers, body=request.body)
    if service == "s3":
        length = request.headers.get("Content-Length") or "0"
        if (request.body or length != "0") and request.method in ("GET", "HEAD"):
            # moto merges a form body into some parameters and not others: AWS takes none
            raise Unclassifiable(f"an S3 {request.method} request with a body")
        call.query = request.url_query
        call.bucket, call.key = _bucket_and_key(resource)
        from .s3 import s3_operation

        call.operation = S3_ACTIONS.get(operation, operation) if call.bucket is None else \
            s3_operation(call.method, call.key is not None, call.query, call.params,
                         S3_ACTIONS.get(operation, operation))
        return call
    if operation not in request.operation_names:
        raise Unclassifiable(f"{service} has no operation named {operation!r}")
    call.resolved = resource
    return call
