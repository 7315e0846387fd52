"""The account's S3 bucket (``infrastructure.BUCKET``); teardown empties a bucket before
deleting it, as S3 refuses to delete one that holds objects."""

from __future__ import annotations

from ..settings import Settings
from . import infrastructure as infra

SERVICE = "s3"


def _names(settings: Settings) -> list[str]:
    """Every bucket's name (ListBuckets pages only when asked for a page size)."""
    s3 = settings.client(SERVICE)
    return [bucket["Name"] for page in s3.get_paginator("list_buckets").paginate()
            for bucket in page.get("Buckets", [])]


def ensure(settings: Settings) -> None:
    name = settings.name(infra.BUCKET)
    if name not in _names(settings):
        settings.client(SERVICE).create_bucket(Bucket=name)


def teardown(settings: Settings) -> list[str]:
    """Delete every prefixed bucket, its objects first, a page of keys at a time."""
    s3 = settings.client(SERVICE)
    doomed = [name for name in _names(settings) if name.startswith(settings.prefix)]
    for name in doomed:
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=name):
            keys = [{"Key": found["Key"]} for found in page.get("Contents", [])]
            if keys:
                s3.delete_objects(Bucket=name, Delete={"Objects": keys, "Quiet": True})
        s3.delete_bucket(Bucket=name)
    return [f"bucket {name}" for name in doomed]
