"""Everything the emulator reads or changes inside moto, behind one small typed interface.

The gate runs in moto's process and decides on what moto will execute, so it
must reach moto's internals: its dispatch (to seat the authorisation hook), its
request objects (to read the operation and parameters moto will use), its IAM,
STS and DynamoDB backends (principals, policies, key schemas) and its server
app. Each of those reaches lives here and nowhere else, so a moto upgrade is
checked against this one file. Everything moto-shaped that leaves this module
is plain data (strings, dicts, the frozen dataclasses below).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC
from functools import lru_cache
from threading import Lock
from types import SimpleNamespace
from typing import Any, Literal

from ..settings import EMULATOR_ACCOUNT

ACCOUNT = EMULATOR_ACCOUNT  # where moto keeps everything the kit creates
PARTITION = "aws"

# moto's entry points that always reach the authorisation hook before any backend call.
GATED_ENTRIES = {"dispatch", "bucket_dispatch", "key_dispatch", "ambiguous_dispatch"}
# moto handlers AWS serves without authentication and that change nothing.
PUBLIC_HANDLERS = {"serve_json_web_key", "serve_openid_configuration"}

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

WSGIApp = Callable[[dict[str, Any], Callable], Iterable[bytes]]
HandlerKind = Literal["gated", "public", "unknown"]


# --- the server -------------------------------------------------------------------------------

def server_app() -> WSGIApp:
    """moto's WSGI app: every service, dispatched by host name and request shape."""
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

    _share_pool_signing_key()
    _kms_refuses_disabled_keys()
    return DomainDispatcherApplication(create_backend_app)


def _kms_refuses_disabled_keys() -> None:
    """Sign and Verify with a disabled key raise DisabledException, as on AWS (moto answers).

    Checks disable a key for a moment to make Verify raise the way AWS raises for an invalid
    signature (KMSInvalidSignatureException, where moto answers SignatureValid False): a
    consumer that treats a KMS error as "accept" shows.
    """
    from moto.core.exceptions import JsonRESTError
    from moto.kms.models import KmsBackend

    if getattr(KmsBackend.verify, "kit_refuses_disabled", False):
        return

    def refusing(original: Callable) -> Callable:
        def call(backend: Any, key_id: str, *args: Any, **kwargs: Any) -> Any:
            key = backend.describe_key(key_id)
            if key.key_state == "Disabled":
                raise JsonRESTError("DisabledException", f"{key.arn} is disabled.")
            return original(backend, key_id, *args, **kwargs)

        call.kit_refuses_disabled = True  # type: ignore[attr-defined]
        return call

    KmsBackend.sign = refusing(KmsBackend.sign)  # type: ignore[method-assign]
    KmsBackend.verify = refusing(KmsBackend.verify)  # type: ignore[method-assign]


def _share_pool_signing_key() -> None:
    """Every user pool signs with the one key that ships in moto: parse it once.

    moto imports that JSON key again for each new pool, recovering its RSA primes (a sixth of
    a second of CPU), and every account reset creates the lab's pool anew. One parsed key per
    distinct key document serves every pool; pools sign exactly as before.
    """
    from moto.cognitoidp import models

    if not isinstance(models.jwk, _OnceParsedKeys):
        models.jwk = _OnceParsedKeys(models.jwk)


class _OnceParsedKeys:
    """joserfc's ``jwk`` module as moto's Cognito sees it, with ``RSAKey.import_key`` memoised."""

    def __init__(self, jwk: Any) -> None:
        self._jwk = jwk
        self._parsed: dict[str, Any] = {}
        self._lock = Lock()
        self.RSAKey = SimpleNamespace(import_key=self._import_rsa)

    def _import_rsa(self, value: Any) -> Any:
        document = value if isinstance(value, str) else json.dumps(value, sort_keys=True)
        with self._lock:
            if document not in self._parsed:
                self._parsed[document] = self._jwk.RSAKey.import_key(value)
            return self._parsed[document]

    def __getattr__(self, name: str) -> Any:
        return getattr(self._jwk, name)


def request_handler() -> type:
    """The werkzeug request handler moto's own server uses (it keeps S3's raw paths)."""
    from moto.moto_server.werkzeug_app import MotoRequestHandler

    return MotoRequestHandler


# --- one request, as moto will execute it ------------------------------------------------------

class MotoRequest:
    """A typed view of moto's response object for the request it is about to execute."""

    def __init__(self, response: Any) -> None:
        self._response = response

    @property
    def service(self) -> str:
        """The IAM prefix of the service (dynamodb, s3, sqs, ...); empty if moto has none."""
        return self._response.service_name or ""

    @property
    def operation(self) -> str:
        """The operation moto resolved; empty when it resolved none or several."""
        operation = self._response._get_action()
        if isinstance(operation, list):
            operation = operation[0] if len(operation) == 1 else ""
        return operation if isinstance(operation, str) else ""

    @property
    def params(self) -> Mapping[str, Any]:
        return _Params(self._response)

    @property
    def region(self) -> str:
        return self._response.region

    @property
    def account(self) -> str:
        return self._response.current_account

    @property
    def method(self) -> str:
        return self._response.method

    @property
    def path(self) -> str:
        return self._response.path

    @property
    def headers(self) -> Mapping[str, str]:
        return self._response.headers

    @property
    def body(self) -> bytes:
        raw = self._response.raw_body
        return raw if isinstance(raw, bytes) else str(raw or "").encode()

    @property
    def url_query(self) -> dict[str, str]:
        """The URL's query string as moto's S3 handlers read it (never a form body)."""
        return {k: v[0] for k, v in self._response._get_querystring(
            self._response.request, self._response.uri).items() if v}

    @property
    def named_actions(self) -> set[str]:
        """Every operation name the request states (URL, form body, X-Amz-Target)."""
        request = self._response.normalized_request
        names = {v for source in (request.args, request.form) for v in source.getlist("Action")}
        target = self.headers.get("X-Amz-Target")
        if target:
            names.add(target.rsplit(".", 1)[-1])
        return names

    @property
    def signing_name(self) -> str:
        """The SigV4 service name AWS expects in the credential scope for this service."""
        model = service_model(self._response.boto3_service_name)
        return model.signing_name or model.endpoint_prefix

    @property
    def operation_names(self) -> frozenset[str]:
        """Every operation botocore's model of this service defines."""
        return frozenset(service_model(self._response.boto3_service_name).operation_names)


class _Params(Mapping[str, Any]):
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


@lru_cache(maxsize=64)
def service_model(name: str) -> Any:
    from moto.core.utils import get_service_model

    return get_service_model(name)


# --- the seat of the gate in moto's dispatch ---------------------------------------------------

Authorize = Callable[[MotoRequest, str], bool]  # (request, resource ARN) -> may it run
MayRun = Callable[[HandlerKind], bool]  # is a handler of this kind allowed to run at all

_seat: dict[str, Any] = {}


def install(authorize: Authorize, may_run: MayRun) -> None:
    """Seat the gate in moto (idempotent): the authorisation hook and the dispatcher guard.

    moto calls ``_authenticate_and_authorize_action`` from its dispatch of every service
    and every S3 handler, after it resolved the operation and before it touches a backend;
    handlers that are not such dispatchers are classified before they run.
    """
    from moto.core.authorization import ActionAuthenticatorMixin
    from moto.core.utils import convert_to_flask_response

    _seat.update(authorize=authorize, may_run=may_run)
    ActionAuthenticatorMixin._authenticate_and_authorize_action = _authorize_in_moto  # type: ignore[assignment,method-assign]
    if not hasattr(convert_to_flask_response.__call__, "__wrapped__"):
        convert_to_flask_response.__call__ = _guarded(  # type: ignore[method-assign]
            convert_to_flask_response.__call__)


def _authorize_in_moto(response: Any, iam_request_cls: type, resource: str = "*") -> None:
    """Replaces moto's ``ActionAuthenticatorMixin._authenticate_and_authorize_action``."""
    if not _seat["authorize"](MotoRequest(response), resource):
        raise _access_denied(response)


def _access_denied(response: Any) -> Exception:
    """An exception moto turns into an error response without running the operation."""
    if getattr(response, "service_name", None) == "s3":
        from moto.s3.exceptions import S3ClientError

        return S3ClientError("AccessDenied", "Access Denied")
    from werkzeug.exceptions import Forbidden

    return Forbidden()


def _guarded(original: Callable[..., Any]) -> Callable[..., Any]:
    def call(self: Any, args: Any = None, **kwargs: Any) -> Any:
        if not _seat["may_run"](_handler_kind(self.callback)):
            from flask import Response

            return Response(status=403)
        return original(self, args, **kwargs)

    call.__wrapped__ = original  # type: ignore[attr-defined]
    return call


def _handler_kind(callback: Any) -> HandlerKind:
    from moto.core.responses import BaseResponse

    name = getattr(callback, "__name__", "")
    if name in PUBLIC_HANDLERS:
        return "public"
    owner = getattr(callback, "__self__", None)
    if name in GATED_ENTRIES and isinstance(owner, type) and issubclass(owner, BaseResponse):
        return "gated"
    return "unknown"


# --- IAM and STS: who holds a key, and which policies speak for them ---------------------------

@dataclass(frozen=True)
class AccessKey:
    secret: str
    active: bool
    role_arn: str | None  # set for STS's temporary keys
    user_name: str | None  # set for an IAM user's keys


@dataclass(frozen=True)
class Role:
    id: str
    tags: dict[str, str]
    policies: tuple[str, ...]  # inline and attached managed policy documents
    trust_policy: str


@dataclass(frozen=True)
class User:
    arn: str
    id: str
    name: str
    tags: dict[str, str]
    policies: tuple[str, ...]  # the user's and its groups', inline and managed


def _iam() -> Any:
    from moto.iam.models import iam_backends

    return iam_backends[ACCOUNT][PARTITION]


def access_key(access_key_id: str) -> AccessKey | None:
    key = _iam().access_keys.get(access_key_id)
    if key is None:
        return None
    return AccessKey(key.secret_access_key, getattr(key, "status", "Active") == "Active",
                     getattr(key, "role_arn", None), getattr(key, "user_name", None))


def role(arn: str) -> Role | None:
    try:
        found = _iam().get_role_by_arn(arn)
    except Exception:  # moto raises its own IAMNotFoundException
        return None
    return Role(found.id, _tags(found.tags), _documents(found), found.assume_role_policy_document)


def user(name: str) -> User:
    iam = _iam()
    found = iam.get_user(name)
    policies = _documents(found) + tuple(
        document for group in iam.get_groups_for_user(name) for document in _documents(group))
    return User(found.arn, found.id, found.name, _tags(getattr(found, "tags", {})), policies)


def managed_policy(arn: str) -> str | None:
    """The default version's document of a managed policy; None if there is no such policy."""
    try:
        return _default_version(_iam().get_policy(arn))
    except Exception:  # moto raises its own IAMNotFoundException
        return None


def assumed_session(access_key_id: str) -> tuple[str, float] | None:
    """The session token and expiry (epoch seconds) STS gave a temporary key, if it did."""
    from moto.sts.models import sts_backends

    found = sts_backends[ACCOUNT][PARTITION].get_assumed_role_from_access_key(access_key_id)
    if found is None:
        return None
    return found.session_token, found.expiration.replace(tzinfo=UTC).timestamp()


def _default_version(policy: Any) -> str:
    return next((v.document for v in policy.versions if v.is_default), "{}")


def _documents(holder: Any) -> tuple[str, ...]:
    """Inline then managed policy documents of a role, user or group."""
    return tuple(holder.policies.values()) + tuple(
        _default_version(p) for p in holder.managed_policies.values())


def _tags(tags: Any) -> dict[str, str]:
    """moto keeps tags as a list of {Key, Value} for roles and as a dict for users."""
    if isinstance(tags, dict):
        return {k: (v["Value"] if isinstance(v, dict) else v) for k, v in tags.items()}
    return {t["Key"]: t["Value"] for t in tags or []}


# --- DynamoDB: key schemas and moto's own key condition parser ---------------------------------

def _dynamodb(region: str) -> Any:
    from moto.dynamodb.models import dynamodb_backends

    return dynamodb_backends[ACCOUNT][region]


def hash_key(region: str, table: str, index: str | None) -> str | None:
    """The partition key attribute of a table or index; None if there is no such table."""
    found = _dynamodb(region).tables.get(table)
    if found is None:
        return None
    if index:
        for candidate in found.indexes + found.global_indexes:
            if candidate.name == index:
                return next((k["AttributeName"] for k in candidate.schema
                             if k["KeyType"] == "HASH"), None)
        return None
    return found.hash_key_attr or None


def kms_key_arn(region: str, key_id: str) -> str | None:
    """The ARN of the key moto will use for a KeyId (key id, key ARN, alias or alias ARN);
    None when moto knows no such key in this region."""
    from moto.kms.models import kms_backends

    try:
        return kms_backends[ACCOUNT][region].describe_key(key_id).arn
    except Exception:  # noqa: BLE001 - moto raises KeyError, NotFoundException, TypeError
        return None


def key_condition_values(region: str, table: str, index: str | None, expression: str,
                         values: Mapping[str, Any], names: Mapping[str, str]) -> list[Any]:
    """The attribute values a key condition expression compares the partition key with,
    as moto's parser reads them against the table's real schema."""
    from moto.dynamodb.parsing.key_condition_expression import parse_expression

    schema = _dynamodb(region).get_schema(table_name=table, index_name=index)
    conditions, _, _ = parse_expression(
        key_condition_expression=expression, expression_attribute_values=values,
        expression_attribute_names=names, schema=schema)
    return [value for _, value in conditions]


# --- Cognito: what the gate checks that moto does not --------------------------------------------


@dataclass(frozen=True)
class UserPoolClient:
    """An app client as the gate needs it: what it may write, and its pool's Mutable flags."""

    client_id: str
    write_attributes: tuple[str, ...]  # empty: every attribute of the pool
    mutable: Mapping[str, bool]


def _user_pools() -> Iterator[Any]:
    from moto.cognitoidp.models import cognitoidp_backends

    for backends in cognitoidp_backends.values():
        for region, backend in backends.items():
            if region != "global":
                yield backend, backend.user_pools


def user_pool_client(client_id: str) -> UserPoolClient | None:
    for _, pools in _user_pools():
        for pool in pools.values():
            client = pool.clients.get(client_id)
            if client is not None:
                return UserPoolClient(
                    client_id, tuple(client.extended_config.get("WriteAttributes") or ()),
                    {name: bool(a.mutable) for name, a in pool.schema_attributes.items()})
    return None


def access_token_client(token: str) -> str | None:
    """The app client an access token was issued to."""
    return next((pool.access_tokens[token][0] for _, pools in _user_pools()
                 for pool in pools.values() if token in pool.access_tokens), None)


def auth_session_user(session: str) -> str | None:
    """The user an authentication session (of a challenge) belongs to."""
    return next((backend.sessions[session][0] for backend, _ in _user_pools()
                 if session in backend.sessions), None)


# --- S3 ---------------------------------------------------------------------------------------


def pending_upload_key(bucket: str, upload_id: str) -> str | None:
    """The key a pending multipart upload of ``bucket`` was started for (None: no such upload)."""
    from moto.s3.models import s3_backends

    for backends in s3_backends.values():
        for backend in backends.values():
            found = backend.buckets.get(bucket)
            if found is not None:
                upload = found.multiparts.get(upload_id)
                return getattr(upload, "key_name", None)
    return None


# --- CloudWatch: the EMF agent publishes as the account -----------------------------------------

def put_metric_data(region: str, namespace: str, data: list[dict[str, Any]]) -> None:
    """PutMetricData into moto's CloudWatch backend, shaped as moto's handler passes it (naive
    UTC timestamps); moto's own validation runs. For the EMF agent, which writes as the account
    and must not pay for HTTP round trips of thousands of data points."""
    from moto.cloudwatch.models import cloudwatch_backends

    shaped = [{**d, "Timestamp": d["Timestamp"].astimezone(UTC).replace(tzinfo=None)}
              if d.get("Timestamp") is not None and d["Timestamp"].tzinfo else d for d in data]
    cloudwatch_backends[ACCOUNT][region].put_metric_data(namespace, shaped)


# --- CloudWatch Logs: queries and filter patterns answered by the kit ---------------------------

LogRecord = tuple[int, str, str, str, str, int]  # timestamp, message, stream, group, ptr, ingested
LogQueryRunner = Callable[[str, list[LogRecord]], list[dict[str, str]]]
MessageFilter = Callable[[str], Callable[[str], bool] | None]


def install_log_queries(run: LogQueryRunner, message_filter: MessageFilter) -> None:
    """Answer Logs Insights queries with ``run`` and JSON filter patterns with
    ``message_filter`` (idempotent).

    moto 5.2.5 reads only ``fields``, ``sort`` and ``limit`` of a query (it ignores ``filter``
    and ``stats``) and treats a JSON filter pattern (``{ $.level = "ERROR" }``) as matching
    every event. The kit's functions take their place inside moto's backend, after the IAM gate
    has decided, so the answers travel in moto's own response shapes. ``run`` raises
    ``ValueError`` for a query outside its subset (StartQuery answers
    ``MalformedQueryException``); ``message_filter`` returns None for a pattern that is not
    JSON-shaped (moto's own term matching answers it) and raises ``ValueError`` for a JSON
    pattern it cannot read (``InvalidParameterException``).
    """
    import moto.logs.models as models
    from moto.logs.exceptions import InvalidParameterException, LogsClientError

    class MalformedQueryException(LogsClientError):
        def __init__(self, message: str) -> None:
            self.code = 400
            super().__init__("MalformedQueryException", message)

    def execute_query(log_groups: list[Any], query: str, start_time: int,
                      end_time: int) -> list[dict[str, str]]:
        records = [
            (event.timestamp, event.message, stream.log_stream_name, group.name,
             str(event.event_id), event.ingestion_time)
            for group in log_groups for stream in list(group.streams.values())
            for event in list(stream.events)
            if (not start_time or event.timestamp >= start_time * 1000)
            and (not end_time or event.timestamp <= end_time * 1000)]
        try:
            return run(query, records)
        except ValueError as error:
            raise MalformedQueryException(str(error)) from None

    original = getattr(models, "_kit_original_filter", models.EventMessageFilter)

    class EventMessageFilter:
        def __init__(self, pattern: str) -> None:
            try:
                self._kit = message_filter(pattern or "")
            except ValueError as error:
                raise InvalidParameterException(f"Invalid filter pattern: {error}") from None
            self._moto = original(pattern) if self._kit is None else None

        def matches(self, message: str) -> bool:
            return self._kit(message) if self._kit is not None else self._moto.matches(message)

    backend = models.LogsBackend
    search = getattr(backend, "_kit_original_search", backend.filter_log_events)

    def filter_log_events(self: Any, log_group_name: str, log_stream_names: list[str],
                          start_time: int, end_time: int, limit: int | None,
                          next_token: str | None, filter_pattern: str,
                          interleaved: bool) -> Any:
        EventMessageFilter(filter_pattern)  # a pattern outside the subset fails with no events too
        return search(self, log_group_name, log_stream_names, start_time, end_time, limit,
                      next_token, filter_pattern, interleaved)

    models._kit_original_filter = original
    backend._kit_original_search = search
    models.execute_query = execute_query
    models.EventMessageFilter = EventMessageFilter
    backend.filter_log_events = filter_log_events
