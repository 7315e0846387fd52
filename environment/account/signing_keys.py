"""The account's KMS signing keys (``infrastructure.SIGNING_KEYS``), reached by alias.

A key's id is random (and differs after every reset); its alias ``alias/<prefix><name>`` is
what code names, and KMS accepts it wherever a KeyId is asked for. Teardown deletes the alias
and schedules the key's deletion (KMS's shortest wait, 7 days: a key is never deleted at once).
"""

from __future__ import annotations

from ..settings import Settings
from . import infrastructure as infra

SERVICE = "kms"
KEY_SPEC = "RSA_2048"
SIGNING_ALGORITHM = "RSASSA_PSS_SHA_256"


def alias(settings: Settings, short_name: str) -> str:
    return f"alias/{settings.name(short_name)}"


def _aliases(settings: Settings) -> dict[str, str]:
    """Every prefixed alias -> the key id it points at."""
    kms = settings.client(SERVICE)
    found: dict[str, str] = {}
    for page in kms.get_paginator("list_aliases").paginate():
        for entry in page.get("Aliases", []):
            if entry["AliasName"].startswith(f"alias/{settings.prefix}"):
                found[entry["AliasName"]] = entry.get("TargetKeyId", "")
    return found


def ensure(settings: Settings) -> None:
    existing = _aliases(settings)
    kms = settings.client(SERVICE)
    for key in infra.SIGNING_KEYS:
        name = alias(settings, key.short_name)
        if name in existing:
            continue
        created = kms.create_key(KeySpec=KEY_SPEC, KeyUsage="SIGN_VERIFY",
                                 Description=key.purpose,
                                 Tags=[{"TagKey": "lab", "TagValue": settings.prefix.rstrip("-")}])
        kms.create_alias(AliasName=name, TargetKeyId=created["KeyMetadata"]["KeyId"])


def teardown(settings: Settings) -> list[str]:
    kms = settings.client(SERVICE)
    doomed = _aliases(settings)
    for name, key_id in doomed.items():
        kms.delete_alias(AliasName=name)
        if key_id:
            kms.schedule_key_deletion(KeyId=key_id, PendingWindowInDays=7)
    return [f"signing key {name}" for name in doomed]
