"""The lab account, described as data: what exists when the environment is up.

Provisioning (``environment.account.provision`` and one module per resource kind) reads only
this module and the tenant list, so adding a table or an attribute for a later lab is a
one-line change here rather than a new provisioning step.
"""

from __future__ import annotations

from dataclasses import dataclass

from .tenants import TENANTS

USER_POOL = "users"
APP_CLIENT = "lab-app"

# Custom attributes carried in every ID token as custom:<name>. tenant_id is
# immutable and the app client may read but never write either of them:
# otherwise a user could move themselves to another tenant with
# UpdateUserAttributes, which is a classic SaaS mistake. The quota (lab 4) is read-only for the
# same reason: a user who could write it could raise their own tenant's rate limit.
CUSTOM_ATTRIBUTES: tuple[tuple[str, bool], ...] = (
    ("tenant_id", False), ("tenant_tier", True), ("quota_rate", True), ("quota_burst", True))
READ_ATTRIBUTES = ("email", "custom:tenant_id", "custom:tenant_tier", "custom:quota_rate",
                   "custom:quota_burst")
WRITE_ATTRIBUTES = ("email",)


@dataclass(frozen=True)
class Table:
    """A DynamoDB table with string partition and sort keys named ``pk`` and ``sk``."""

    short_name: str
    purpose: str


TABLES: tuple[Table, ...] = (
    Table("orders", "pooled orders of every tenant, keyed TENANT#<id> / ORDER#<id>"),
    Table("products", "pooled product catalogue, keyed TENANT#<id> / PRODUCT#<id>"),
    Table("routes", "which deployment serves each tenant, keyed TENANT#<id> / ROUTE (lab 4)"),
    *(Table(f"silo-{t.id}", f"{t.id}'s own table in its silo deployment (lab 4)")
      for t in TENANTS if t.deployment == "silo"),
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
QUEUES: tuple[Queue, ...] = (
    Queue("order-events-dlq", "lab 3: order events the consumer refused (tampered, poison)"),
    Queue("order-events", "lab 3: OrderPlaced events, routed here from the order-events bus",
          dead_letter="order-events-dlq", max_receives=2),
)


@dataclass(frozen=True)
class EventRoute:
    """An EventBridge bus and one rule on it that sends matching events to an SQS queue."""

    bus: str
    rule: str
    source: str
    detail_type: str
    queue: str


EVENT_ROUTES: tuple[EventRoute, ...] = (
    EventRoute("order-events", "order-placed", "saas-lab.orders", "OrderPlaced", "order-events"),
)


@dataclass(frozen=True)
class SigningKey:
    """An asymmetric KMS key (RSA, SIGN_VERIFY) reached by its alias ``alias/<prefix><name>``.

    Its private half never leaves KMS: a service that may call kms:Sign can vouch for a message,
    everyone else can only check it (kms:Verify, or the public key).
    """

    short_name: str
    purpose: str


SIGNING_KEYS: tuple[SigningKey, ...] = (
    SigningKey("order-events", "lab 3: the order service signs the tenant context of its events"),
)

# Lab 3, asynchronous request-response: the report service's jobs, worked off by a worker.
QUEUES += (
    Queue("report-jobs-dlq", "report jobs that failed max_receives times"),
    Queue("report-jobs", "report jobs accepted with 202, waiting for the worker",
          dead_letter="report-jobs-dlq"),
)
# Lab 3, scatter-gather: one request queue per supplier, one reply queue (the return address).
SUPPLIERS: tuple[str, ...] = ("ace", "bolt", "crank", "dyno")
QUEUES += (
    *(Queue(f"quotes-{supplier}", f"requests for quotes to the supplier {supplier}")
      for supplier in SUPPLIERS),
    Queue("quote-replies", "the aggregator's return address: every supplier's quotes"),
)
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
    # Lab 2's answer, provisioned: later labs vend tenant credentials from this role, so that
    # they do not depend on the policy a learner wrote in lab 2 (which goes on tenant-access).
    Role("tenant-scoped",
         "assumed per tenant with a TenantID session tag: item access to its own partitions only",
         _account_root_may_assume(require_tenant_tag=True),
         {"own-partitions": {"Version": "2012-10-17", "Statement": [
             {"Effect": "Allow",
              "Action": ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem",
                         "dynamodb:DeleteItem", "dynamodb:Query", "dynamodb:BatchWriteItem",
                         "dynamodb:BatchGetItem"],
              "Resource": ["arn:aws:dynamodb:*:${Account}:table/${Prefix}*"],
              "Condition": {"ForAllValues:StringLike": {"dynamodb:LeadingKeys": [
                  "TENANT#${aws:PrincipalTag/TenantID}",
                  "TENANT#${aws:PrincipalTag/TenantID}#*"]}}},
         ]}}),
)


def render(document: dict, account: str, prefix: str) -> str:
    """A policy document as JSON, with the account, prefix and bucket filled in."""
    import json

    return (json.dumps(document).replace("${Account}", account).replace("${Prefix}", prefix)
            .replace("${Bucket}", BUCKET))
