"""The check's side of signed order events: read what a producer sent, and forge what it must
refuse (edited after signing, signed with another key, unsigned, not JSON at all).

Verification here uses the kit's own KMS client and the one byte string the lab defines
(``order_events.canonical``), so a producer is judged by what any consumer could verify.
"""

from __future__ import annotations

import base64
import binascii
import copy
import json
from typing import Any

from botocore.exceptions import ClientError

from environment.account.signing_keys import alias
from environment.app import order_events as oe
from environment.settings import Settings

FORGER = "check-forger"  # a second signing key of the account: genuine KMS, wrong key


def detail_of(body: str) -> dict[str, Any] | None:
    """The ``detail`` of an EventBridge event as delivered to SQS, or None."""
    try:
        event = json.loads(body)
    except ValueError:
        return None
    detail = event.get("detail") if isinstance(event, dict) else None
    return detail if isinstance(detail, dict) else None


def signature_valid(settings: Settings, detail: dict[str, Any], key: str = oe.SIGNING_KEY
                    ) -> bool:
    """Whether ``detail['signature']`` is the lab key's signature over its context and order."""
    context, order, signature = (detail.get(k) for k in ("context", "order", "signature"))
    if not isinstance(context, dict) or not isinstance(order, dict) or \
            not isinstance(signature, str):
        return False
    try:
        raw = base64.b64decode(signature, validate=True)
        answer = settings.client("kms").verify(
            KeyId=alias(settings, key), Message=oe.canonical(context, order), MessageType="RAW",
            Signature=raw, SigningAlgorithm=oe.SIGNING_ALGORITHM)
    except (ClientError, binascii.Error, ValueError):
        return False
    return bool(answer.get("SignatureValid"))


def forger_key(settings: Settings) -> str:
    """The alias of a second signing key (created on first use; checks only, never labs)."""
    kms = settings.client("kms")
    name = alias(settings, FORGER)
    names = {a["AliasName"] for page in kms.get_paginator("list_aliases").paginate()
             for a in page.get("Aliases", [])}
    if name not in names:
        key = kms.create_key(KeySpec="RSA_2048", KeyUsage="SIGN_VERIFY",
                             Description="the lab checks' forger: a genuine key, not the lab's")
        kms.create_alias(AliasName=name, TargetKeyId=key["KeyMetadata"]["KeyId"])
    return name


def signed_with(settings: Settings, key_alias: str, context: dict[str, Any],
                order: dict[str, Any]) -> str:
    raw = settings.client("kms").sign(KeyId=key_alias, Message=oe.canonical(context, order),
                                      MessageType="RAW",
                                      SigningAlgorithm=oe.SIGNING_ALGORITHM)["Signature"]
    return base64.b64encode(raw).decode()


def key_names(settings: Settings, key_alias: str) -> list[str]:
    """Every way a message could name a key: alias (with and without ``alias/``), key id and
    ARN, longest first (so that replacing them in a text never leaves half a name)."""
    meta = settings.client("kms").describe_key(KeyId=key_alias)["KeyMetadata"]
    names = {key_alias, key_alias.removeprefix("alias/"), meta["KeyId"], meta["Arn"],
             meta["Arn"].rsplit(":key/", 1)[0] + ":" + key_alias}
    return sorted(names, key=len, reverse=True)


def renamed(value: Any, names: dict[str, str]) -> Any:
    """``value`` with every string naming one key replaced by the name of another."""
    if isinstance(value, dict):
        return {k: renamed(v, names) for k, v in value.items()}
    if isinstance(value, list):
        return [renamed(v, names) for v in value]
    if isinstance(value, str):
        for old, new in names.items():
            value = value.replace(old, new)
    return value


def edited(body: str, **changes: Any) -> str:
    """The same event with parts of its detail changed after signing (``context__tenant_id``
    edits ``detail['context']['tenant_id']``)."""
    event = json.loads(body)
    detail = copy.deepcopy(event["detail"])
    for path, value in changes.items():
        part, _, field = path.partition("__")
        if field:
            detail[part][field] = value
        elif value is None:
            detail.pop(part, None)
        else:
            detail[part] = value
    return json.dumps({**event, "detail": detail})
