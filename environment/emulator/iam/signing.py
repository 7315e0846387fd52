"""Who signed a request, and whether they did: SigV4 as AWS checks it.

Knowing an access key id must not be enough to act as its owner, so the gate
recomputes every signature with the secret it knows for that key, using
botocore's own SigV4 canonical-request code (the same code that signed the
request on the client side). Anything that is not a well-formed SigV4
signature, in the Authorization header or in a presigned query string, is
refused rather than guessed at: SigV2 (``AWSAccessKeyId=``, ``AWS key:sig``),
unknown schemes, malformed credential scopes.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, quote

from botocore.auth import S3SigV4Auth, S3SigV4QueryAuth, SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

ALGORITHM = "AWS4-HMAC-SHA256"
SCOPE = re.compile(r"^([A-Za-z0-9]{1,128})/(\d{8})/([a-z0-9-]{1,32})/([a-z0-9.-]{1,64})"
                   r"/aws4_request$")
HEADER = re.compile(rf"^{ALGORITHM} Credential=([^,\s]+),\s*SignedHeaders=([a-z0-9;._-]+),"
                    r"\s*Signature=([0-9a-f]{64})$")
AMZ_DATE = re.compile(r"^\d{8}T\d{6}Z$")
MAX_PRESIGN_SECONDS = 7 * 24 * 3600


class AuthError(Exception):
    """The request's authentication is missing, malformed or wrong: a denial, never a pass."""

    def __init__(self, problem: str, message: str) -> None:
        super().__init__(message)
        self.problem = problem  # a key of responses.PROBLEMS
        self.message = message


@dataclass(frozen=True)
class Signed:
    """A SigV4 signature as it arrived, not yet checked."""

    access_key_id: str
    region: str
    service: str  # the signing name in the scope (dynamodb, s3, monitoring, ...)
    signed_headers: tuple[str, ...]
    signature: str
    timestamp: str  # X-Amz-Date
    in_query: bool
    token: str | None  # X-Amz-Security-Token
    expires: int | None = None  # X-Amz-Expires of a presigned URL


def _scope(credential: str) -> tuple[str, str, str, str]:
    match = SCOPE.match(credential)
    if not match:
        raise AuthError("malformed", f"the credential scope {credential!r} is malformed: it must "
                                     "be <key>/<yyyymmdd>/<region>/<service>/aws4_request")
    return match.group(1), match.group(2), match.group(3), match.group(4)


def read_signature(environ: dict[str, Any]) -> Signed | None:
    """The request's SigV4 signature, None when unsigned; AuthError for any other scheme."""
    header = environ.get("HTTP_AUTHORIZATION")
    query = dict(parse_qsl(environ.get("QUERY_STRING", ""), keep_blank_values=True))
    if "AWSAccessKeyId" in query or "SignatureVersion" in query or "Signature" in query:
        raise AuthError("sigv2", "Signature Version 2 is not supported: sign requests with "
                                 "AWS4-HMAC-SHA256 (SigV4)")
    if header is not None:
        if "X-Amz-Credential" in query or "X-Amz-Signature" in query:
            raise AuthError("malformed", "a request is signed in the header or in the query "
                                         "string, not in both")
        if header.startswith("AWS "):
            raise AuthError("sigv2", "Signature Version 2 is not supported: sign requests "
                                     "with AWS4-HMAC-SHA256 (SigV4)")
        match = HEADER.match(header.strip())
        if not match:
            raise AuthError("malformed", "the Authorization header is not a well-formed "
                                         f"{ALGORITHM} signature")
        key, date, region, service = _scope(match.group(1))
        timestamp = environ.get("HTTP_X_AMZ_DATE", "")
        token = environ.get("HTTP_X_AMZ_SECURITY_TOKEN")
        return Signed(key, region, service, tuple(match.group(2).split(";")),
                      match.group(3), _timestamp(timestamp, date), False, token)
    if "X-Amz-Signature" in query or "X-Amz-Credential" in query or "X-Amz-Algorithm" in query:
        if query.get("X-Amz-Algorithm") != ALGORITHM:
            raise AuthError("malformed", f"X-Amz-Algorithm must be {ALGORITHM}")
        key, date, region, service = _scope(query.get("X-Amz-Credential", ""))
        signature = query.get("X-Amz-Signature", "")
        if not re.fullmatch(r"[0-9a-f]{64}", signature):
            raise AuthError("malformed", "X-Amz-Signature is missing or malformed")
        expires = query.get("X-Amz-Expires", "")
        if not expires.isdigit() or not 0 < int(expires) <= MAX_PRESIGN_SECONDS:
            raise AuthError("malformed", "X-Amz-Expires must be between 1 and 604800 seconds")
        return Signed(key, region, service,
                      tuple(query.get("X-Amz-SignedHeaders", "host").split(";")), signature,
                      _timestamp(query.get("X-Amz-Date", ""), date), True,
                      query.get("X-Amz-Security-Token"), int(expires))
    if header is None:
        return None
    raise AuthError("malformed", "unknown authorization scheme")


def _timestamp(value: str, date: str) -> str:
    if not AMZ_DATE.match(value) or not value.startswith(date):
        raise AuthError("malformed", "X-Amz-Date must be yyyymmddThhmmssZ and agree with the "
                                     "date of the credential scope")
    return value


def _signer(signed: Signed, secret: str, token: str | None) -> SigV4Auth:
    credentials = Credentials(signed.access_key_id, secret, token)
    if signed.in_query:
        cls = S3SigV4QueryAuth if signed.service == "s3" else SigV4Auth
    else:
        cls = S3SigV4Auth if signed.service == "s3" else SigV4Auth
    return cls(credentials, signed.service, signed.region)


def _canonical_request(environ: dict[str, Any], body: bytes, signed: Signed,
                       signer: SigV4Auth) -> tuple[str, AWSRequest]:
    """botocore's canonical request for the request exactly as it came over the wire."""
    raw = environ.get("RAW_URI") or environ.get("REQUEST_URI") or (
        quote(environ.get("PATH_INFO", "")) + ("?" + environ["QUERY_STRING"]
                                               if environ.get("QUERY_STRING") else ""))
    path, _, query = raw.partition("?")
    if signed.in_query:  # the signature signs everything but itself
        query = "&".join(p for p in query.split("&") if not p.startswith("X-Amz-Signature="))
    headers = {}
    for name in signed.signed_headers:
        if name == "host":
            value = environ.get("HTTP_HOST")
        elif name == "content-type":
            value = environ.get("CONTENT_TYPE")
        elif name == "content-length":
            value = environ.get("CONTENT_LENGTH")
        else:
            value = environ.get("HTTP_" + name.upper().replace("-", "_"))
        if value is None:
            raise AuthError("signature", f"the signed header {name!r} is not in the request")
        headers[name] = value
    request = AWSRequest(method=environ.get("REQUEST_METHOD", "GET"),
                         url=f"http://{headers.get('host', 'localhost')}{path}"
                             + (f"?{query}" if query else ""),
                         headers=headers, data=body)
    request.context["timestamp"] = signed.timestamp
    _check_payload_hash(headers.get("x-amz-content-sha256"), body, signed.service)
    return signer.canonical_request(request), request


def _check_payload_hash(claimed: str | None, body: bytes, service: str) -> None:
    """A signed x-amz-content-sha256 stands for the body in the signature: it must be its hash.

    S3 also accepts UNSIGNED-PAYLOAD and its streaming (aws-chunked) forms, whose
    chunks moto decodes.
    """
    if claimed is None or claimed == hashlib.sha256(body).hexdigest():
        return
    if service == "s3" and (claimed == "UNSIGNED-PAYLOAD" or claimed.startswith("STREAMING-")):
        return
    raise AuthError("signature", "The provided 'x-amz-content-sha256' header does not match "
                                 "what was computed.")


MAX_SKEW = 15 * 60  # AWS refuses a header-signed request more than 15 minutes off its clock


def verify(environ: dict[str, Any], body: bytes, signed: Signed, secret: str,
           now: float) -> None:
    """Raise AuthError unless the signature is the one ``secret`` makes for this request."""
    signer = _signer(signed, secret, signed.token)
    canonical, request = _canonical_request(environ, body, signed, signer)
    expected = signer.signature(signer.string_to_sign(request, canonical), request)
    if not hmac.compare_digest(expected, signed.signature):
        raise AuthError("signature", "The request signature we calculated does not match the "
                                     "signature you provided. Check your AWS Secret Access Key "
                                     "and signing method.")
    try:
        issued = datetime.strptime(signed.timestamp, "%Y%m%dT%H%M%SZ").replace(
            tzinfo=UTC).timestamp()
    except (TypeError, ValueError):
        raise AuthError("malformed", f"X-Amz-Date {signed.timestamp!r} is not a date "
                                     "(yyyymmddThhmmssZ)") from None
    if not signed.in_query and abs(now - issued) > MAX_SKEW:
        raise AuthError("skewed", f"Signature expired: {signed.timestamp} is more than 15 "
                                  "minutes from the server's time "
                                  f"{datetime.fromtimestamp(now, UTC):%Y%m%dT%H%M%SZ}.")
    if signed.in_query and signed.expires is not None:
        if now > issued + signed.expires:
            raise AuthError("denied", "Request has expired")  # S3's AccessDenied, as on AWS
