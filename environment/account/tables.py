"""The account's DynamoDB tables (``infrastructure.TABLES``): created ready, torn down by prefix."""

from __future__ import annotations

from ..settings import Settings
from . import infrastructure as infra

SERVICE = "dynamodb"


def _names(settings: Settings) -> list[str]:
    dynamodb = settings.client(SERVICE)
    return [name for page in dynamodb.get_paginator("list_tables").paginate()
            for name in page["TableNames"]]


def ensure(settings: Settings) -> None:
    existing = set(_names(settings))
    for table in infra.TABLES:
        name = settings.name(table.short_name)
        if name not in existing:
            create_table(settings, name)


def create_table(settings: Settings, name: str) -> None:
    """A pay-per-request table with string keys ``pk`` and ``sk``, ready when this returns."""
    dynamodb = settings.client(SERVICE)
    dynamodb.create_table(
        TableName=name,
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                              {"AttributeName": "sk", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"},
                   {"AttributeName": "sk", "KeyType": "RANGE"}],
        BillingMode="PAY_PER_REQUEST",
        Tags=[{"Key": "lab", "Value": settings.prefix.rstrip("-")}],
    )
    dynamodb.get_waiter("table_exists").wait(TableName=name,
                                             WaiterConfig={"Delay": 1, "MaxAttempts": 30})


def teardown(settings: Settings) -> list[str]:
    """Delete every prefixed table (the whole listing is read before the first delete)."""
    dynamodb = settings.client(SERVICE)
    doomed = [name for name in _names(settings) if name.startswith(settings.prefix)]
    for name in doomed:
        dynamodb.delete_table(TableName=name)
    return [f"table {name}" for name in doomed]
