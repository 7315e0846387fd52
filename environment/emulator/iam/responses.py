"""Denials in each service's own error format, so boto3 raises what it raises on AWS."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterable
from functools import cache
from xml.sax.saxutils import escape

from ..moto_adapter import service_model
from .calls import Protocol

QUERY_CODES = {"sns": "AuthorizationError"}


@cache
def query_compatible(service: str) -> bool:
    """Whether the service moved from the query protocol to JSON keeping its old error codes,
    which boto3 then reads from the x-amzn-query-error header (botocore's model says so)."""
    try:
        return "awsQueryCompatible" in service_model(service).metadata
    except Exception:  # no model by that name: not one of them
        return False


def cbor_text_map(items: dict[str, str]) -> bytes:
    """A CBOR map of text strings: all an rpc-v2-cbor error needs (RFC 8949, major types 3, 5)."""

    def head(major: int, length: int) -> bytes:
        if length < 24:
            return bytes([major << 5 | length])
        if length < 256:
            return bytes([major << 5 | 24, length])
        return bytes([major << 5 | 25]) + length.to_bytes(2, "big")

    out = bytearray(head(5, len(items)))
    for key, value in items.items():
        for text in (key, value):
            data = text.encode()
            out += head(3, len(data)) + data
    return bytes(out)


# Per problem: (query and CBOR code, JSON exception, S3 code, S3 HTTP status), as AWS answers.
PROBLEMS = {
    "denied": ("AccessDenied", "AccessDeniedException", "AccessDenied", 403),
    "expired": ("ExpiredToken", "ExpiredTokenException", "ExpiredToken", 400),
    "invalid": ("InvalidClientTokenId", "UnrecognizedClientException", "InvalidAccessKeyId",
                403),
    "signature": ("SignatureDoesNotMatch", "InvalidSignatureException", "SignatureDoesNotMatch",
                  403),
    "unsigned": ("MissingAuthenticationToken", "MissingAuthenticationTokenException",
                 "AccessDenied", 403),
    "malformed": ("IncompleteSignature", "IncompleteSignatureException",
                  "AuthorizationHeaderMalformed", 400),
    # Cognito's own refusals of its public operations (JSON only).
    "not-authorized": ("NotAuthorized", "NotAuthorizedException", "AccessDenied", 403),
    "code-mismatch": ("CodeMismatch", "CodeMismatchException", "AccessDenied", 403),
    "no-such-upload": ("NoSuchUpload", "NoSuchUpload", "NoSuchUpload", 404),
    # a header signature more than 15 minutes from the server's clock
    "skewed": ("SignatureDoesNotMatch", "InvalidSignatureException", "RequestTimeTooSkewed",
               403),
    "sigv2": ("IncompleteSignature", "IncompleteSignatureException", "InvalidRequest", 400),
}


def error_response(service: str, protocol: Protocol, start_response: Callable, message: str,
                   problem: str = "denied") -> Iterable[bytes]:
    """An error in the service's own protocol, with the code AWS gives for ``problem``."""
    request_id = str(uuid.uuid4())
    code, exception, s3_code, s3_status = PROBLEMS[problem]
    if protocol == "json":
        body = json.dumps({"__type": f"com.amazon.coral.service#{exception}",
                           "message": message, "Message": message}).encode()
        headers = [("Content-Type", "application/x-amz-json-1.0"),
                   ("x-amzn-RequestId", request_id)]
        if query_compatible(service):
            headers.append(("x-amzn-query-error", f"{code};Sender"))
        status = "400 Bad Request"
    elif protocol == "cbor":
        body = cbor_text_map({"__type": code, "message": message})
        headers = [("Content-Type", "application/cbor"), ("smithy-protocol", "rpc-v2-cbor"),
                   ("x-amzn-query-error", f"{code};Sender")]
        status = "400 Bad Request"
    elif protocol == "rest-xml":
        body = (f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{s3_code}</Code>'
                f"<Message>{escape(message)}</Message><RequestId>{request_id}</RequestId>"
                "</Error>").encode()
        headers = [("Content-Type", "application/xml")]
        status = {400: "400 Bad Request", 404: "404 Not Found"}.get(s3_status, "403 Forbidden")
    else:
        code = QUERY_CODES.get(service, code) if problem == "denied" else code
        body = (f"<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code>"
                f"<Message>{escape(message)}</Message></Error>"
                f"<RequestId>{request_id}</RequestId></ErrorResponse>").encode()
        headers = [("Content-Type", "text/xml")]
        status = "403 Forbidden"
    start_response(status, headers + [("Content-Length", str(len(body)))])
    return [body]


def json_response(start_response: Callable, payload: object) -> Iterable[bytes]:
    body = json.dumps(payload).encode()
    start_response("200 OK", [("Content-Type", "application/json"),
                              ("Content-Length", str(len(body)))])
    return [body]
