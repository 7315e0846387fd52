"""The lab account, described as data: what exists when the environment is up.

Provisioning (``environment.account.provision`` and one module per resource kind) reads only
this module and the tenant list, so adding a table or an attribute for a later lab is a
one-line change here rather than a new provisioning step.
"""

from __future__ import annotations

from dataclasses import dataclass

USER_POOL = "users"
APP_CLIENT = "lab-app"

# Custom attributes carried in every ID token as custom:<name>. tenant_id is
# immutable and the app client may read but never write either of them:
# otherwise a user could move themselves to another tenant with
# UpdateUserAttributes, which is a classic SaaS mistake.
CUSTOM_ATTRIBUTES: tuple[tuple[str, bool], ...] = (("tenant_id", False), ("tenant_tier", True))
READ_ATTRIBUTES = ("email", "custom:tenant_id", "custom:tenant_tier")
WRITE_ATTRIBUTES = ("email",)


@dataclass(frozen=True)
class Table:
    """A DynamoDB table with string partition and sort keys named ``pk`` and ``sk``."""

    short_name: str
    purpose: str


TABLES: tuple[Table, ...] = (
    Table("orders", "pooled orders of every tenant, keyed TENANT#<id> / ORDER#<id>"),
    Table("products", "pooled product catalogue, keyed TENANT#<id> / PRODUCT#<id>"),
)


@dataclass(frozen=True)
class Role:
    """An IAM role: who may assume it (trust) and what it may do (inline policies)."""

    short_name: str
    purpose: str
    trust: dict
    policies: dict[str, dict]


def _account_root_may_assume(*, require_tenant_tag: bool) -> dict:
    statement: dict = {
        "Effect": "Allow",
        "Principal": {"AWS": "arn:aws:iam::${Account}:root"},
        "Action": ["sts:AssumeRole", "sts:TagSession"],
    }
    if require_tenant_tag:  # no TenantID tag, no session: an untagged session would match nothing
        statement["Condition"] = {"Null": {"aws:RequestTag/TenantID": "false"}}
    return {"Version": "2012-10-17", "Statement": [statement]}


@dataclass(frozen=True)
class Queue:
    """An SQS queue; ``dead_letter`` names the queue that gets what failed ``max_receives`` times.

    Timeouts are short so that a lab sees a redelivery or a dead letter in seconds, not minutes.
    """

    short_name: str
    purpose: str
    dead_letter: str | None = None
    max_receives: int = 3
    visibility_timeout: int = 2


# Later labs append their queues here; a dead-letter queue is declared before the queue using it.
QUEUES: tuple[Queue, ...] = ()
# Lab 6: payment requests for the partner, and what could not be paid. Visibility 0: a worker
# that dies mid-batch leaves its message to the next receive at once (no real waiting).
QUEUES += (Queue("payments-dlq", "payments that failed, each with its reason (lab 6)"),
           Queue("payments", "payment requests for the partner API, with tenant context (lab 6)",
                 dead_letter="payments-dlq", max_receives=3, visibility_timeout=0))

BUCKET = "documents"  # per-tenant documents under <tenant-id>/ prefixes

ROLES: tuple[Role, ...] = (
    Role("tenant-access",
         "assumed per tenant with a TenantID session tag; lab 2 writes its permissions",
         _account_root_may_assume(require_tenant_tag=True), {}),
    Role("order-service",
         "the order service's broad role: every tenant's data (what lab 2 starts from)",
         _account_root_may_assume(require_tenant_tag=False),
         {"pooled-data": {"Version": "2012-10-17", "Statement": [
             {"Effect": "Allow", "Action": "dynamodb:*",
              "Resource": ["arn:aws:dynamodb:*:${Account}:table/${Prefix}*"]},
             {"Effect": "Allow", "Action": "s3:*",
              "Resource": ["arn:aws:s3:::${Prefix}${Bucket}", "arn:aws:s3:::${Prefix}${Bucket}/*"]},
         ]}}),
)


def render(document: dict, account: str, prefix: str) -> str:
    """A policy document as JSON, with the account, prefix and bucket filled in."""
    import json

    return (json.dumps(document).replace("${Account}", account).replace("${Prefix}", prefix)
            .replace("${Bucket}", BUCKET))
