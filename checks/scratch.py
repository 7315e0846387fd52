"""Throw-away tables for checks, and what the account saw learner code do with them.

Checks write into their own tables so that a notebook's tables hold only what
the notebook itself wrote (its outputs stay deterministic) and so that every
run starts empty.

*How* learner code read the data matters as much as what it returned: a Scan
that filters by tenant returns the right rows today and reads every tenant's
data to do it. The check learns that from the account, not from a hook on one
Python object: the table it hands over is signed with a role session of the
check's own, and the IAM gate's audit trail lists every call of that session,
whichever client, resource or API (Scan, PartiQL) learner code used with it.
"""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass
from typing import Any

import boto3

from environment.account.tables import create_table
from environment.errors import LabError
from environment.lab import Lab

CHECK_ROLE = "order-service"  # dynamodb:* on the kit's tables, nothing else
# What a reader of one tenant's partition may call. Everything else in DynamoDB's API (Scan,
# PartiQL's ExecuteStatement and its batch and transaction forms, writes) is out of place.
PARTITION_READS = frozenset({"Query", "DescribeTable"})


@dataclass
class ScratchTable:
    """A fresh table and the account's view of the calls made on it."""

    lab: Lab
    table: Any  # a boto3 Table signed with the check's own session (or the lab's, off the gate)
    principal: str | None  # that session's ARN, or None when there is no audit trail

    @property
    def name(self) -> str:
        return self.table.name

    @property
    def observed(self) -> bool:
        return self.principal is not None

    def mark(self) -> int:
        return self.lab.audit_mark() if self.observed else 0

    def calls_since(self, mark: int) -> Counter[str]:
        """DynamoDB actions the account saw on this table (or with this session) after mark."""
        if not self.observed:
            return Counter()
        arn_tail = f":table/{self.name}"
        return Counter(
            event["action"].split(":", 1)[-1] for event in self.lab.audit(since=mark)
            if event.get("action", "").startswith("dynamodb:")
            and (event.get("principal") == self.principal
                 or str(event.get("resource", "")).endswith(arn_tail)))

    def put_many(self, items: list[dict[str, Any]]) -> None:
        """Write items with the kit's own credentials (never counted as learner calls)."""
        with kit_table(self.lab, self.name).batch_writer() as batch:
            for item in items:
                batch.put_item(Item=item)


def fresh_table(lab: Lab, short_name: str) -> ScratchTable:
    """An empty ``pk``/``sk`` table named ``<prefix><short_name>``, recreated on every call."""
    name = lab.settings.name(short_name)
    client = lab.settings.client("dynamodb")
    if name in client.list_tables()["TableNames"]:
        client.delete_table(TableName=name)
        client.get_waiter("table_not_exists").wait(TableName=name,
                                                   WaiterConfig={"Delay": 1, "MaxAttempts": 30})
    create_table(lab.settings, name)
    session, principal = _check_session(lab)
    return ScratchTable(lab, session.resource("dynamodb").Table(name), principal)


_SESSIONS: dict[Any, boto3.Session] = {}


def _session(lab: Lab) -> boto3.Session:
    """One boto3 session per settings: a new one loads the service models again (~100 ms)."""
    if lab.settings not in _SESSIONS:
        _SESSIONS[lab.settings] = lab.settings.session()
    return _SESSIONS[lab.settings]


def kit_table(lab: Lab, table_name: str) -> Any:
    """A table with the kit's own (admin) credentials: what the check reads and plants with."""
    return _session(lab).resource("dynamodb").Table(table_name)


def _check_session(lab: Lab) -> tuple[boto3.Session, str | None]:
    """The check's own role session, audited by the gate, and its ARN; else the kit's own."""
    if not lab.settings.embedded:
        return _session(lab), None
    try:
        lab.audit_mark()
    except (LabError, OSError, ValueError):
        return _session(lab), None
    assumed = lab.client("sts").assume_role(RoleArn=lab.role_arn(CHECK_ROLE),
                                            RoleSessionName=f"lab-check-{os.getpid()}")
    return lab.session(assumed["Credentials"]), assumed["AssumedRoleUser"]["Arn"]


def raw_items(lab: Lab, table_name: str) -> list[dict[str, Any]]:
    """Every item of a table, read with the kit's own client (not the learner's)."""
    client = kit_table(lab, table_name)
    items: list[dict[str, Any]] = []
    scan: dict[str, Any] = {}
    while True:
        page = client.scan(**scan)
        items.extend(page["Items"])
        if "LastEvaluatedKey" not in page:
            return items
        scan["ExclusiveStartKey"] = page["LastEvaluatedKey"]
