"""What lab 6's checks share: scratch queues, a partner per case, a worker, a run to the end.

Each check makes its own queues (recreated empty, visibility timeout 0 so that a message a
dead worker left behind is received again at once) and its own partner with a scenario it
chose, so what it counts (charges, attempts, dead letters) belongs to this run only.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from environment.account.tables import create_table
from environment.app.context import TenantContext
from environment.app.partners import Scenario, SimulatedClock, WorkerKilled, start_partner
from environment.app.partners.api import Partner
from environment.app.partners.records import payment_key
from environment.app.partners.worker import Worker
from environment.lab import Lab

from ..framework import NotStarted, Raised, TimedOut, Trial, call_with_timeout
from ..scratch import ScratchTable, _check_session

MAX_RECEIVES = 3
TIMEOUT_LIMIT = 10.0  # a client timeout above this is no timeout at all for a payment
TIMEOUT_MIN = 1.0  # the partner's ordinary answers take up to 0.4 s: a shorter timeout fails them
MAX_ATTEMPTS = 5
BASE, CAP = 1.0, 20.0  # the backoff the lab asks for: min(CAP, BASE * 2**(n-1)), jittered


def ctx(tenant_id: str, tier: str = "basic") -> TenantContext:
    """A caller of one tenant whose e-mail domain is not the tenant's name (a user's address
    says nothing about the tenant: the context's tenant_id does)."""
    return TenantContext(tenant_id=tenant_id, tier=tier, user="dana@billing.example.net")


_RESOURCES: dict[tuple[Any, str], Any] = {}


def kit_resource(lab: Lab, service: str) -> Any:
    """A boto3 resource with the kit's own credentials, one per settings and service: building
    one loads its model, which a check that runs dozens of times cannot pay each time."""
    key = (lab.settings, service)
    if key not in _RESOURCES:
        _RESOURCES[key] = lab.settings.resource(service)
    return _RESOURCES[key]


def plain_table(lab: Lab, short_name: str) -> ScratchTable:
    """An empty table with the kit's own credentials (no audit: for checks that count effects,
    not calls); cheaper than ``scratch.fresh_table``, which signs in a session of its own."""
    name = lab.settings.name(short_name)
    client = lab.settings.client("dynamodb")
    if name in client.list_tables()["TableNames"]:
        client.delete_table(TableName=name)
    create_table(lab.settings, name)
    return ScratchTable(lab, kit_resource(lab, "dynamodb").Table(name), None)


_AUDITED: dict[Any, tuple[float, Any, str | None]] = {}
SESSION_REUSE_S = 20 * 60  # the check's role session lasts an hour; reuse it for a third of it


def audited_table(lab: Lab, short_name: str) -> ScratchTable:
    """``scratch.fresh_table``, with the check's own audited role session reused for a while:
    a new session loads botocore's models again, which a check run dozens of times cannot pay."""
    bare = plain_table(lab, short_name)
    made, session, principal = _AUDITED.get(lab.settings, (-SESSION_REUSE_S, None, None))
    if time.monotonic() - made >= SESSION_REUSE_S:
        session, principal = _check_session(lab)
        _AUDITED[lab.settings] = (time.monotonic(), session, principal)
    return ScratchTable(lab, session.resource("dynamodb").Table(bare.name), principal)


def payment_record(lab: Lab, table_name: str, tenant: str, order: str) -> dict[str, Any] | None:
    """A payment record as stored, read with the kit's own client."""
    return kit_resource(lab, "dynamodb").Table(table_name).get_item(
        Key=payment_key(tenant, order), ConsistentRead=True).get("Item")


@dataclass
class Queues:
    """A payment queue and its dead-letter queue, made for one check run."""

    lab: Lab
    url: str
    dlq_url: str

    @property
    def sqs(self) -> Any:
        return self.lab.client("sqs")

    def resource(self, url: str) -> Any:
        return kit_resource(self.lab, "sqs").Queue(url)

    def drain(self, url: str) -> list[dict[str, Any]]:
        """Every message of a queue, read and deleted with the kit's own client."""
        found: list[dict[str, Any]] = []
        for _ in range(100):
            page = self.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10,
                                            MessageAttributeNames=["All"],
                                            AttributeNames=["All"])
            messages = page.get("Messages", [])
            if not messages:
                return found
            found += messages
            self.sqs.delete_message_batch(QueueUrl=url, Entries=[
                {"Id": str(n), "ReceiptHandle": m["ReceiptHandle"]}
                for n, m in enumerate(messages)])
        return found

    def depth(self, url: str) -> int:
        attributes = self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=[
            "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible",
            "ApproximateNumberOfMessagesDelayed"])["Attributes"]
        return sum(int(v) for v in attributes.values())

    def send_many(self, url: str, messages: list[tuple[dict[str, Any], dict[str, str]]]) -> None:
        """(body, string attributes) pairs, ten per SendMessageBatch."""
        for start in range(0, len(messages), 10):
            self.sqs.send_message_batch(QueueUrl=url, Entries=[
                {"Id": str(n), "MessageBody": json.dumps(body), "MessageAttributes": {
                    name: {"DataType": "String", "StringValue": value}
                    for name, value in attributes.items()}}
                for n, (body, attributes) in enumerate(messages[start:start + 10])])

    def send(self, url: str, body: dict[str, Any], **attributes: str) -> None:
        self.sqs.send_message(QueueUrl=url, MessageBody=json.dumps(body), MessageAttributes={
            name: {"DataType": "String", "StringValue": value}
            for name, value in attributes.items()})


def fresh_queues(lab: Lab, short_name: str = "check-payments") -> Queues:
    """A queue with a dead-letter queue after MAX_RECEIVES receives, both new and empty."""
    sqs = lab.client("sqs")
    names = (lab.settings.name(short_name), lab.settings.name(f"{short_name}-dlq"))
    for name in names:
        try:
            sqs.delete_queue(QueueUrl=sqs.get_queue_url(QueueName=name)["QueueUrl"])
        except sqs.exceptions.QueueDoesNotExist:
            pass
    dlq_url = sqs.create_queue(QueueName=names[1])["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])[
        "Attributes"]["QueueArn"]
    url = sqs.create_queue(QueueName=names[0], Attributes={
        "VisibilityTimeout": "0",
        "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn,
                                     "maxReceiveCount": str(MAX_RECEIVES)})})["QueueUrl"]
    return Queues(lab, url, dlq_url)


def no_real_time(params: dict[str, Any], **_: Any) -> None:
    """Long polls and delays cut to zero (``before-parameter-build.sqs``): the check's queues
    run on the simulated clock, so ``WaitTimeSeconds=20`` on an empty queue or
    ``DelaySeconds=60`` on a send costs no real time and hides no message."""
    for name in ("WaitTimeSeconds", "DelaySeconds"):
        if name in params:
            params[name] = 0
    for entry in params.get("Entries") or []:
        if isinstance(entry, dict) and "DelaySeconds" in entry:
            entry["DelaySeconds"] = 0


@contextmanager
def handlers(client: Any, *pairs: tuple[str, Callable[..., Any]]) -> Iterator[None]:
    """Event handlers on a (shared, cached) client for the length of a block, and no longer."""
    events = client.meta.events
    for event, handler in pairs:
        events.register(event, handler)
    try:
        yield
    finally:
        for event, handler in pairs:
            events.unregister(event, handler)


class Deliveries:
    """What the worker received and deleted on the payment queue, seen on its client's events.

    At each delete, the order's record is read: a message deleted while its record still says
    ``pending`` (or has none) is a payment lost if the worker dies right then. ``release``
    makes what a killed worker held visible again, as its visibility timeout would on the
    simulated clock (a worker may receive with a ``VisibilityTimeout`` of its own)."""

    def __init__(self, lab: Lab, url: str, table_name: str) -> None:
        self.lab, self.url, self.table_name = lab, url, table_name
        self.held: dict[str, tuple[str, str] | None] = {}  # receipt handle -> order
        self.early: list[str] = []

    def before(self, params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        context["lab06_queue"] = params.get("QueueUrl")

    def received(self, parsed: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        if context.get("lab06_queue") != self.url:
            return
        for message in parsed.get("Messages", []):
            try:
                body = json.loads(message["Body"])
                order = (body["tenant_id"], body["order_id"])
            except (ValueError, KeyError, TypeError):
                order = None
            self.held[message["ReceiptHandle"]] = order

    def deleting(self, params: dict[str, Any], model: Any, **_: Any) -> None:
        if params.get("QueueUrl") != self.url:
            return
        handles = ([params.get("ReceiptHandle")] if model.name == "DeleteMessage"
                   else [e.get("ReceiptHandle") for e in params.get("Entries") or []
                         if isinstance(e, dict)])
        for handle in handles:
            order = self.held.pop(handle, None)
            if order is None:
                continue
            record = payment_record(self.lab, self.table_name, *order) or {}
            if record.get("status") not in ("paid", "failed"):
                self.early.append(f"{order[0]}/{order[1]} (record: "
                                  f"{record.get('status', 'none')})")

    def release(self) -> None:
        sqs = self.lab.client("sqs")
        for handle in list(self.held):
            try:
                sqs.change_message_visibility(QueueUrl=self.url, ReceiptHandle=handle,
                                              VisibilityTimeout=0)
            except Exception:  # noqa: BLE001 - a handle that is gone needs no release
                pass
        self.held.clear()

    @contextmanager
    def watching(self, client: Any) -> Iterator[Deliveries]:
        with handlers(client, ("before-parameter-build.sqs", no_real_time),
                      ("before-parameter-build.sqs", self.before),
                      ("after-call.sqs.ReceiveMessage", self.received),
                      ("before-parameter-build.sqs.DeleteMessage", self.deleting),
                      ("before-parameter-build.sqs.DeleteMessageBatch", self.deleting)):
            yield self


@dataclass
class Rig:
    """Everything one worker case needs: queues, a table, a partner on a clock."""

    queues: Queues
    table: ScratchTable
    partner: Partner
    clock: SimulatedClock

    def worker(self, kill_after: int | None = None, seed: int = 6) -> Worker:
        return Worker(self.queues.resource(self.queues.url),
                      self.queues.resource(self.queues.dlq_url), self.table.table,
                      self.partner.client(kill_after), self.clock, random.Random(seed))

    @property
    def charges(self) -> list[dict[str, Any]]:
        return self.partner.api.charges

    def deliveries(self) -> Deliveries:
        return Deliveries(self.queues.lab, self.queues.url, self.table.name)

    @property
    def worker_client(self) -> Any:
        return self.queues.resource(self.queues.url).meta.client

    def use(self, scenario: Scenario) -> Rig:
        """The next part of a check: a new scenario and clock, no charges, empty queues."""
        self.clock = SimulatedClock()
        self.partner.api.reset(scenario, self.clock)
        for url in (self.queues.url, self.queues.dlq_url):
            self.queues.drain(url)
        return self


@contextmanager
def rig(lab: Lab, scenario: Scenario, table: ScratchTable | None = None) -> Iterator[Rig]:
    clock = SimulatedClock()
    with start_partner(scenario, clock) as partner:
        yield Rig(fresh_queues(lab), table or plain_table(lab, "check-payments"), partner,
                  clock)


def run_worker(t: Trial, process_batch: Callable, worker: Worker, hint: str) -> str:
    """One call of the learner's worker: 'ok', 'killed' (it died as the check arranged), or
    a report of what else went wrong."""
    try:
        call_with_timeout(process_batch, worker, timeout=t.timeout)
    except Raised as raised:
        if isinstance(raised.error, WorkerKilled):
            return "killed"
        t.expect(False, "the batch processed", f"it raised {raised}{raised.where}", hint)
    except TimedOut as slow:
        t.expect(False, "the batch processed", f"your function {slow}", hint)
    except NotStarted:
        raise
    return "ok"


def run_until_empty(t: Trial, process_batch: Callable, rig_: Rig, worker: Worker,
                    hint: str, limit: int = 60) -> int:
    """Call the worker until its queue is empty (a bounded number of times); the calls made."""
    for calls in range(1, limit + 1):
        run_worker(t, process_batch, worker, hint)
        if rig_.queues.depth(rig_.queues.url) == 0:
            return calls
    t.expect(False, f"the queue empty after at most {limit} batches",
             f"{rig_.queues.depth(rig_.queues.url)} messages still there", hint)
    return limit


def charges_by_order(charges: list[dict[str, Any]]) -> dict[tuple[str, str], int]:
    counted: dict[tuple[str, str], int] = {}
    for charge in charges:
        key = (charge["tenant_id"], charge["order_id"])
        counted[key] = counted.get(key, 0) + 1
    return counted
