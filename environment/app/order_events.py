"""The order-events path: what travels, and the consumer loop that runs a handler over a queue.

The order service publishes ``OrderPlaced`` on the ``order-events`` bus; a rule routes it to
the ``order-events`` queue, which has a dead-letter queue. The event's ``detail`` is a signed
envelope::

    {"context": {"tenant_id": ..., "tier": ..., "user": ...},
     "order": {...},
     "signature": base64 of KMS Sign over canonical(context, order)}

``canonical`` is the one byte string the signature covers (sorted keys, no spaces), so producer
and consumer cannot disagree on it. What a handler does with a message is the lab's; how a
message ends is this module's: ``consume`` receives for a bounded number of rounds (no wall
clock), deletes what the handler accepted, and makes what it refused visible again at once
(``ChangeMessageVisibility`` to 0) so that after ``max_receives`` receives SQS itself moves it
to the dead-letter queue. The ``Ledger`` keeps why each message failed, by message id, which
SQS keeps when it dead-letters.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..account import infrastructure as infra
from ..account.queues import queue_url
from ..settings import Settings

BUS = "order-events"
QUEUE = "order-events"
DEAD_LETTERS = "order-events-dlq"
SIGNING_KEY = "order-events"
SOURCE = "saas-lab.orders"
DETAIL_TYPE = "OrderPlaced"
SIGNING_ALGORITHM = "RSASSA_PSS_SHA_256"
BATCH = 10  # SQS's largest receive


def canonical(context: dict[str, Any], order: dict[str, Any]) -> bytes:
    """The bytes a signature covers: the context and the order, as sorted, compact JSON."""
    return json.dumps({"context": context, "order": order}, sort_keys=True,
                      separators=(",", ":"), default=str).encode()


def max_receives(short_name: str = QUEUE) -> int:
    return next(q.max_receives for q in infra.QUEUES if q.short_name == short_name)


class StopConsuming(Exception):
    """Raised by ``call`` to end the loop at once (the message stays in the queue)."""


@dataclass
class Ledger:
    """What the consumer did: message ids handled, and the last refusal of each failed one."""

    processed: list[str] = field(default_factory=list)
    failures: dict[str, str] = field(default_factory=dict)
    receives: int = 0  # ReceiveMessage calls made
    results: dict[str, Any] = field(default_factory=dict)  # message id -> what the handler gave

    def reason(self, message_id: str) -> str | None:
        return self.failures.get(message_id)


def consume(settings: Settings, handle: Callable[[str], Any], rounds: int | None = None,
            queue: str = QUEUE, ledger: Ledger | None = None,
            call: Callable[..., Any] | None = None) -> Ledger:
    """Receive from ``queue`` until it is empty (or ``rounds`` receives), handling each body.

    ``call(handle, body)`` runs the handler (a check passes one with a time limit); whatever it
    raises is the message's failure, recorded with its reason, and the message is retried;
    ``StopConsuming`` ends the loop (a handler that is not written yet, or hangs).
    """
    sqs = settings.client("sqs")
    url = queue_url(settings, queue)
    ledger = ledger or Ledger()
    rounds = rounds if rounds is not None else 4 * (max_receives(queue) + 2)
    call = call or (lambda fn, body: fn(body))
    for _ in range(rounds):
        messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=BATCH,
                                       WaitTimeSeconds=0).get("Messages", [])
        ledger.receives += 1
        if not messages:
            break
        for n, message in enumerate(messages):
            try:
                ledger.results[message["MessageId"]] = call(handle, message["Body"])
            except StopConsuming:
                # the rest of the batch is visible again at once, so the next run's purge
                # finds it (instead of it reappearing in that run, a visibility timeout later)
                for left in messages[n:]:
                    sqs.change_message_visibility(QueueUrl=url, VisibilityTimeout=0,
                                                  ReceiptHandle=left["ReceiptHandle"])
                return ledger
            except Exception as error:  # noqa: BLE001 - a refusal is any exception
                ledger.failures[message["MessageId"]] = f"{type(error).__name__}: {error}"[:300]
                sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"],
                                              VisibilityTimeout=0)
                continue
            ledger.processed.append(message["MessageId"])
            ledger.failures.pop(message["MessageId"], None)
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    return ledger


@dataclass(frozen=True)
class DeadLetter:
    message_id: str
    body: str
    reason: str | None  # from the ledger; None if this consumer never saw it fail
    receives: int


def dead_letters(settings: Settings, ledger: Ledger | None = None,
                 queue: str = DEAD_LETTERS, rounds: int = 20) -> list[DeadLetter]:
    """Drain the dead-letter queue (receive and delete), each message with why it failed."""
    sqs = settings.client("sqs")
    url = queue_url(settings, queue)
    found: list[DeadLetter] = []
    for _ in range(rounds):
        messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=BATCH, WaitTimeSeconds=0,
                                       AttributeNames=["ApproximateReceiveCount"]).get(
            "Messages", [])
        if not messages:
            break
        for message in messages:
            found.append(DeadLetter(message["MessageId"], message["Body"],
                                    ledger.reason(message["MessageId"]) if ledger else None,
                                    int(message["Attributes"]["ApproximateReceiveCount"])))
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    return found


def purge(settings: Settings, *queues: str) -> None:
    """Empty queues by receiving and deleting (PurgeQueue is refused twice within 60 s on AWS)."""
    sqs = settings.client("sqs")
    for short_name in queues or (QUEUE, DEAD_LETTERS):
        url = queue_url(settings, short_name)
        for _ in range(100):
            messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=BATCH,
                                           VisibilityTimeout=30, WaitTimeSeconds=0).get(
                "Messages", [])
            if not messages:
                break
            sqs.delete_message_batch(QueueUrl=url, Entries=[
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]}
                for i, m in enumerate(messages)])
