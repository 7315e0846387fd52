"""Throw-away tables for checks, and a recorder of the DynamoDB calls made on them.

Checks write into their own tables so that a notebook's tables hold only what
the notebook itself wrote (its outputs stay deterministic) and so that every
run starts empty. The recorder lets a check see *how* learner code read the
data: a Scan that filters by tenant returns the right rows today and reads
every tenant's data to do it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from environment.lab import Lab
from environment.provision import create_table


@dataclass
class RecordedTable:
    table: Any
    calls: list[str] = field(default_factory=list)


def fresh_table(lab: Lab, short_name: str) -> RecordedTable:
    """An empty ``pk``/``sk`` table named ``<prefix><short_name>``, recreated on every call."""
    name = lab.settings.name(short_name)
    client = lab.settings.client("dynamodb")
    if name in client.list_tables()["TableNames"]:
        client.delete_table(TableName=name)
        client.get_waiter("table_not_exists").wait(TableName=name,
                                                   WaiterConfig={"Delay": 1, "MaxAttempts": 30})
    create_table(lab.settings, name)
    # A resource of its own, so the recorder sees only the calls made on this table object.
    table = lab.settings.session().resource("dynamodb", endpoint_url=lab.settings.endpoint
                                            ).Table(name)
    recorded = RecordedTable(table)

    def remember(model: Any, **_: Any) -> None:
        recorded.calls.append(model.name)

    table.meta.client.meta.events.register("before-call.dynamodb.*", remember)
    return recorded


def raw_items(lab: Lab, table_name: str) -> list[dict[str, Any]]:
    """Every item of a table, read with the kit's own client (not the recorded one)."""
    client = lab.settings.resource("dynamodb").Table(table_name)
    items: list[dict[str, Any]] = []
    scan: dict[str, Any] = {}
    while True:
        page = client.scan(**scan)
        items.extend(page["Items"])
        if "LastEvaluatedKey" not in page:
            return items
        scan["ExclusiveStartKey"] = page["LastEvaluatedKey"]
