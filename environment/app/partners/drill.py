"""A fault-injection drill: payments of several tenants through a worker and a flaky partner.

Orders are enqueued, a worker (the learner's ``process_batch``) runs until the queue is empty
(the first worker dies mid-batch, after a partner call), the partner recovers, the dead-letter
queue is redriven (the learner's ``redrive``) and the worker runs again. Then everything is
counted where it ended: the partner's ledger, the status records, the dead-letter queue. The
invariant the lab proves: every order ends paid (charged exactly once) or dead-lettered with a
reason; none is lost, none is charged twice.

``call`` runs each learner function (a check passes one that turns mistakes into reports);
it must let ``WorkerKilled`` through. ``after_kill`` runs once the first worker died (a check
makes what it held visible again, as its visibility timeout would on the simulated clock).
"""

from __future__ import annotations

import json
import random
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .api import Attempt, Partner
from .client import WorkerKilled
from .scenario import Scenario
from .worker import Worker

Order = tuple[str, str, float]  # tenant, order id, amount


class DrillStuck(Exception):
    """The worker did not empty its queue within the drill's number of batches."""


def drill_orders(tenants: tuple[str, ...] = ("tenant-a", "tenant-b", "tenant-c", "tenant-d"),
                 per_tenant: int = 5, declined: int = 1) -> list[Order]:
    """Orders of several tenants, interleaved; the last ``declined`` are over the card limit.
    Order ids repeat across tenants on purpose (every tenant has its o-1)."""
    orders = [(tenant, f"o-{n}", float(10 + 7 * n + 3 * i))
              for n in range(1, per_tenant + 1) for i, tenant in enumerate(tenants)]
    return orders[:len(orders) - declined] + [(t, o, 25_000.0) for t, o, _ in
                                              orders[len(orders) - declined:]]


DRILL = Scenario(seed=61, failure_rate=0.3, slow_rate=0.1, outages=((15.0, 120.0),))


@dataclass
class DrillReport:
    orders: list[Order]
    charges: Counter[tuple[str, str]]
    statuses: dict[tuple[str, str], str]
    dead: dict[tuple[str, str], str | None]  # in the DLQ at the end, with its reason
    attempts: list[Attempt]
    killed_at: float | None = None
    recovered_at: float = 0.0
    moved: Any = None
    batches: int = 0
    notes: list[str] = field(default_factory=list)

    @property
    def twice(self) -> dict[tuple[str, str], int]:
        return {order: n for order, n in self.charges.items() if n > 1}

    @property
    def paid(self) -> set[tuple[str, str]]:
        return {(t, o) for t, o, _ in self.orders
                if self.charges.get((t, o)) == 1 and self.statuses.get((t, o)) == "paid"}

    @property
    def lost(self) -> list[tuple[str, str]]:
        """Orders neither paid nor dead-lettered with a reason."""
        return [(t, o) for t, o, _ in self.orders
                if (t, o) not in self.paid and not self.dead.get((t, o))]

    def summary(self) -> str:
        return (f"{len(self.orders)} orders: {len(self.paid)} paid, "
                f"{sum(1 for r in self.dead.values() if r)} dead-lettered with a reason, "
                f"{len(self.lost)} lost, {len(self.twice)} charged twice "
                f"({len(self.attempts)} partner calls, {self.moved} redriven)")


def run_drill(worker: Worker, partner: Partner, sqs: Any, urls: tuple[str, str],
              records: Callable[[], list[dict[str, Any]]], process_batch: Callable,
              redrive: Callable, orders: list[Order], kill_after: int | None = 3,
              call: Callable[..., Any] = lambda fn, *args: fn(*args),
              max_batches: int = 80,
              after_kill: Callable[[], Any] = lambda: None) -> DrillReport:
    url, dlq_url = urls
    for tenant, order, amount in orders:
        sqs.send_message(QueueUrl=url, MessageBody=json.dumps(
            {"tenant_id": tenant, "order_id": order, "amount": amount}),
            MessageAttributes={"tenant_id": {"DataType": "String", "StringValue": tenant}})
    report = DrillReport(orders, Counter(), {}, {}, [])
    if kill_after is not None:
        doomed = Worker(worker.queue, worker.dead_letters, worker.table,
                        partner.client(kill_after), worker.clock, random.Random(1))
        try:
            call(process_batch, doomed)
            report.notes.append("the worker was never killed")
        except WorkerKilled:
            report.killed_at = worker.clock.now()
        after_kill()  # what the dead worker held comes back (its visibility timeout, elapsed)
    report.batches += _until_empty(sqs, url, lambda: call(process_batch, worker), max_batches)
    worker.clock.advance_to(max([end for _, end in partner.api.scenario.outages], default=0.0))
    partner.api.recover()
    report.recovered_at = worker.clock.now()
    report.moved = call(redrive, sqs, dlq_url, url)
    report.batches += _until_empty(sqs, url, lambda: call(process_batch, worker), max_batches)
    report.charges = Counter((c["tenant_id"], c["order_id"]) for c in partner.api.charges)
    report.statuses = {(r.get("tenant_id"), r.get("order_id")): r.get("status")
                       for r in records() if str(r.get("sk", "")).startswith("PAYMENT#")}
    report.dead = _dead_letters(sqs, dlq_url)
    report.attempts = list(partner.api.attempts)
    return report


def _depth(sqs: Any, url: str) -> int:
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=[
        "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"])["Attributes"]
    return sum(int(v) for v in attributes.values())


def _until_empty(sqs: Any, url: str, batch: Callable[[], Any], limit: int) -> int:
    for calls in range(1, limit + 1):
        batch()
        if _depth(sqs, url) == 0:
            return calls
    raise DrillStuck(f"the queue still holds {_depth(sqs, url)} messages after {limit} "
                       "batches")


def _dead_letters(sqs: Any, dlq_url: str) -> dict[tuple[str, str], str | None]:
    """The dead-letter queue's messages (order -> reason), read without deleting them."""
    dead: dict[tuple[str, str], str | None] = {}
    seen: dict[str, str] = {}  # message id -> receipt handle
    for _ in range(50):
        page = sqs.receive_message(QueueUrl=dlq_url, MaxNumberOfMessages=10,
                                   MessageAttributeNames=["All"], VisibilityTimeout=30)
        messages = [m for m in page.get("Messages", []) if m["MessageId"] not in seen]
        if not messages:
            break
        for message in messages:
            seen[message["MessageId"]] = message["ReceiptHandle"]
            try:
                body = json.loads(message["Body"])
                order = (body["tenant_id"], body["order_id"])
            except (ValueError, KeyError, TypeError):
                order = ("?", message["MessageId"])
            reason = message.get("MessageAttributes", {}).get("reason", {}).get("StringValue")
            # An order twice in the DLQ has no clean end: it counts as neither paid nor dead.
            dead[order] = reason if order not in dead else None
    for handle in seen.values():  # visible again at once: reading is not consuming
        sqs.change_message_visibility(QueueUrl=dlq_url, ReceiptHandle=handle,
                                      VisibilityTimeout=0)
    return dead
