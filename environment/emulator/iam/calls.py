"""What moto is about to execute, read from moto's own request handling.

The gate does not parse HTTP requests itself. It is called from inside moto's
dispatch (see ``hook``), after moto has chosen the service, decoded the body
and resolved the operation; a ``Call`` is built from that same response
object: the operation from ``_get_action()``, every parameter through moto's
own ``_get_param``, the region and account moto will use. Two readings of one
request (the gate's and moto's) are therefore impossible by construction.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

# moto's names for S3 actions (from its ACTION_MAP) where IAM's differ.
S3_ACTIONS = {
    "HeadBucket": "ListBucket",
    "ListObjects": "ListBucket",
    "ListObjectsV2": "ListBucket",
    "SelectObject": "GetObject",
    "GetPublicAccessBlock": "GetBucketPublicAccessBlock",
    "PutPublicAccessBlock": "PutBucketPublicAccessBlock",
    "DeletePublicAccessBlock": "PutBucketPublicAccessBlock",
}
CBOR_PATH = re.compile(r"^/service/[^/]+/operation/[^/]+$")


class Unclassifiable(Exception):
    """The gate cannot tell what the request does: it is denied, never forwarded."""


@dataclass
class Call:
    """One operation as moto will run it."""

    service: str  # IAM prefix: dynamodb, s3, sqs, sts, ...
    operation: str  # AWS's name: GetItem, PutObject, AssumeRole, ...
    protocol: str  # "json" | "query" | "rest-xml" | "cbor": the format of a denial
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


class MotoParams(Mapping[str, Any]):
    """A request's parameters read through moto's ``_get_param``, exactly as its handlers do."""

    def __init__(self, response: Any) -> None:
        self._response = response

    def __getitem__(self, name: str) -> Any:
        value = self._response._get_param(name)
        if value is None:
            raise KeyError(name)
        return value

    def __iter__(self) -> Iterator[str]:
        source = getattr(self._response, "params", None) if getattr(
            self._response, "automated_parameter_parsing", False) else self._response.querystring
        return iter(source or {})

    def __len__(self) -> int:
        return sum(1 for _ in self)


def protocol_of(service: str, headers: Mapping[str, str], path: str) -> str:
    """The wire protocol of a request, which decides the format of its error response."""
    if service == "s3":
        return "rest-xml"
    if CBOR_PATH.match(path):
        return "cbor"
    if headers.get("X-Amz-Target") or headers.get("x-amz-target"):
        return "json"
    return "query"


@lru_cache(maxsize=64)
def service_model(name: str) -> Any:
    from moto.core.utils import get_service_model

    return get_service_model(name)


def signing_name(response: Any) -> str:
    """The SigV4 service name AWS expects in the credential scope for this service."""
    model = service_model(response.boto3_service_name)
    return model.signing_name or model.endpoint_prefix


def _bucket_and_key(resource: str) -> tuple[str | None, str | None]:
    """moto's S3 resource ``arn:aws:s3:::bucket/key`` (bucket ``*`` when there is none)."""
    path = resource.split(":::", 1)[-1]
    bucket, _, key = path.partition("/")
    return (None if bucket in ("", "*") else bucket), (key or None)


def from_moto(response: Any, resource: str) -> Call:
    """The ``Call`` moto's response object is about to execute; Unclassifiable if unknown."""
    service = response.service_name or ""
    operation = response._get_action()
    if isinstance(operation, list):
        operation = operation[0] if len(operation) == 1 else ""
    if not service or not operation or not isinstance(operation, str):
        raise Unclassifiable("the operation of the request is unknown")
    headers = response.headers
    raw = response.raw_body if isinstance(response.raw_body, bytes) else str(
        response.raw_body or "").encode()
    call = Call(service, operation, protocol_of(service, headers, response.path),
                MotoParams(response), response.region, method=response.method,
                headers=headers, body=raw)
    if service == "s3":
        length = headers.get("Content-Length") or "0"
        if (raw or length != "0") and response.method in ("GET", "HEAD"):
            # moto merges a form body into some parameters and not others: AWS takes none
            raise Unclassifiable(f"an S3 {response.method} request with a body")
        call.query = {k: v[0] for k, v in
                      response._get_querystring(response.request, response.uri).items() if v}
        call.bucket, call.key = _bucket_and_key(resource)
        from .s3 import s3_operation

        call.operation = S3_ACTIONS.get(operation, operation) if call.bucket is None else \
            s3_operation(call.method, call.key is not None, call.query, call.params,
                         S3_ACTIONS.get(operation, operation))
        return call
    if operation not in service_model(response.boto3_service_name).operation_names:
        raise Unclassifiable(f"{service} has no operation named {operation!r}")
    call.resolved = resource
    return call


def named_actions(response: Any) -> set[str]:
    """Every operation name a request states (URL, form body, X-Amz-Target): one at most."""
    names: set[str] = set()
    request = response.normalized_request
    for source in (request.args, request.form):
        names.update(v for v in source.getlist("Action"))
    target = response.headers.get("X-Amz-Target")
    if target:
        names.add(target.rsplit(".", 1)[-1])
    return names
