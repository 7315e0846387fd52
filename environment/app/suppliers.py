"""Supplier workers for scatter-gather, on a simulated clock, over real SQS queues.

Each supplier reads requests for quotes from its own queue and answers each one on the queue
the request names as its return address (message attribute ``ReplyTo``), repeating the
request's ``CorrelationId`` so the asker can tell which request a reply belongs to. How long a
supplier takes is drawn from a seeded generator (one per supplier, so the draws do not depend
on the order in which an aggregator asks): the same seed gives the same replies at the same
moments on every machine, and some of them come after any reasonable deadline.

Time is simulated: it moves only when someone calls ``clock.sleep``, and while it moves the
suppliers pick up what is waiting (polling at most once a simulated second) and send every
reply that falls due. A scenario may schedule
extra events (a reply of another request, a duplicate, a malformed one) with ``at``. The clock
refuses a loop that reads it thousands of times without sleeping, or that sleeps far past any
deadline, so such a loop ends with an error that says so instead of hanging.
"""

from __future__ import annotations

import heapq
import json
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import count
from typing import Any

CORRELATION_ID = "CorrelationId"
REPLY_TO = "ReplyTo"
LATENCY_S = (0.2, 4.0)  # a supplier answers within this many (simulated) seconds
PRICE_CENTS = (800, 1600)
# Suppliers poll their queues when time moves, at most once per this many simulated seconds,
# as workers on a polling loop do (and an aggregator that sleeps in small steps costs few calls).
POLL_EVERY_S = 1.0
HORIZON_S = 120.0  # no scenario needs the clock this far; a loop that goes there never ends
MAX_READS_WITHOUT_SLEEP = 2000


class ClockMisuse(RuntimeError):
    """The simulated clock was used in a way that would hang on a real one."""


class SimulatedClock:
    """Seconds since the scenario began; time moves only when someone sleeps.

    ``on_advance(start, end)`` runs on every sleep, before the clock shows ``end``: that is
    when the world (the suppliers) acts.
    """

    def __init__(self, on_advance: Callable[[float, float], None] | None = None) -> None:
        self._now = 0.0
        self._reads = 0
        self.on_advance = on_advance

    @property
    def time(self) -> float:
        """The time, for onlookers (a check, a plot): unlike ``now()`` it counts as no read."""
        return self._now

    def now(self) -> float:
        self._reads += 1
        if self._reads > MAX_READS_WITHOUT_SLEEP:
            raise ClockMisuse(f"the clock was read {MAX_READS_WITHOUT_SLEEP} times without a "
                              "sleep: a loop that waits must sleep between its polls")
        return self._now

    def sleep(self, seconds: float) -> None:
        if not isinstance(seconds, int | float) or seconds < 0:
            raise ValueError(f"sleep() takes a number of seconds >= 0, not {seconds!r}")
        end = self._now + seconds
        if end > HORIZON_S:
            raise ClockMisuse(f"the clock was asked to go past {HORIZON_S:g} s: a loop that "
                              "waits for replies must stop at its deadline")
        if end == self._now:  # sleep(0) in a loop is a busy loop too
            self.now()
            return
        self._reads = 0
        if self.on_advance is not None:
            self.on_advance(self._now, end)
        self._now = end


def _no_real_waiting(params: dict[str, Any], **_: Any) -> None:
    if params.get("WaitTimeSeconds"):
        params["WaitTimeSeconds"] = 0


@dataclass
class Sent:
    """One reply put on a reply queue, for the timeline and for the check's bookkeeping."""

    at: float
    supplier: str
    correlation_id: str | None
    price_cents: int | None
    kind: str  # "quote" (a supplier's answer) or what a scenario injected
    asked_at: float | None = None  # when the supplier picked up the request it answers


@dataclass
class Request:
    """A request for a quote as a supplier received it."""

    at: float
    supplier: str
    correlation_id: str | None
    reply_to: str | None
    body: Any


@dataclass
class Market:
    """Suppliers behind their request queues, a reply queue, and the clock they all share.

    ``sqs`` is a boto3 SQS client; ``supplier_queues`` maps a supplier's name to its request
    queue's URL; ``reply_queue`` is the return address an aggregator names in its requests.
    """

    sqs: Any
    supplier_queues: dict[str, str]
    reply_queue: str
    seed: int = 3
    latency: Callable[[random.Random, str], float] | None = None
    clock: SimulatedClock = field(init=False)
    requests: list[Request] = field(default_factory=list, init=False)
    sent: list[Sent] = field(default_factory=list, init=False)
    dropped: list[str] = field(default_factory=list, init=False)  # requests nobody could answer
    # The furthest the world has moved: the market's own record, which code that sets the
    # clock's attributes directly cannot rewind (a check reads this, not the clock).
    reached: float = field(default=0.0, init=False)

    def __post_init__(self) -> None:
        self.clock = SimulatedClock(self._advance)
        # Long polling waits in real seconds for messages that only simulated time brings: on
        # this clock nothing can arrive while a receive waits, so it answers at once instead.
        self.sqs.meta.events.register("provide-client-params.sqs.ReceiveMessage",
                                      _no_real_waiting, unique_id="market-no-long-polls")
        self._rngs = {name: random.Random(f"{self.seed}:{name}") for name in self.supplier_queues}
        self._due: list[tuple[float, int, Callable[[float], None]]] = []
        self._order = count()
        self._next_poll = 0.0

    @property
    def suppliers(self) -> list[str]:
        return list(self.supplier_queues)

    def at(self, when: float, action: Callable[[Market, float], None]) -> None:
        """Run ``action(market, when)`` when the clock passes ``when`` (a scenario's event)."""
        heapq.heappush(self._due, (when, next(self._order), lambda t: action(self, t)))

    def send_reply(self, at: float, supplier: str, correlation_id: str | None, body: str,
                   kind: str, price_cents: int | None = None, queue: str | None = None,
                   asked_at: float | None = None) -> None:
        attributes = ({} if correlation_id is None else
                      {CORRELATION_ID: {"DataType": "String", "StringValue": correlation_id}})
        self.sqs.send_message(QueueUrl=queue or self.reply_queue, MessageBody=body,
                              MessageAttributes=attributes)
        self.sent.append(Sent(at, supplier, correlation_id, price_cents, kind, asked_at))

    def quote(self, at: float, supplier: str, correlation_id: str | None, price_cents: int,
              kind: str = "quote", queue: str | None = None,
              asked_at: float | None = None) -> None:
        """A well-formed reply: what a supplier sends, or what a scenario forges."""
        body = json.dumps({"supplier": supplier, "price_cents": price_cents})
        self.send_reply(at, supplier, correlation_id, body, kind, price_cents, queue, asked_at)

    def _advance(self, start: float, end: float) -> None:
        self.reached = max(self.reached, end)
        if start >= self._next_poll:
            self._pick_up(start)
            self._next_poll = start + POLL_EVERY_S
        while self._due and self._due[0][0] <= end:
            when, _, action = heapq.heappop(self._due)
            action(when)

    def _pick_up(self, now: float) -> None:
        """Every supplier takes what waits on its queue, and schedules its answers."""
        for supplier, url in self.supplier_queues.items():
            while True:
                messages = self.sqs.receive_message(
                    QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0,
                    MessageAttributeNames=["All"]).get("Messages", [])
                if not messages:
                    break
                for message in messages:
                    self._answer(now, supplier, message)
                    self.sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])

    def _answer(self, now: float, supplier: str, message: dict[str, Any]) -> None:
        attributes = message.get("MessageAttributes", {})
        correlation_id = attributes.get(CORRELATION_ID, {}).get("StringValue")
        reply_to = attributes.get(REPLY_TO, {}).get("StringValue")
        self.requests.append(Request(now, supplier, correlation_id, reply_to, message["Body"]))
        if not reply_to:
            self.dropped.append(f"{supplier} got a request without a {REPLY_TO} attribute: "
                                "it has nowhere to send its quote")
            return
        rng = self._rngs[supplier]
        latency = (self.latency(rng, supplier) if self.latency is not None
                   else round(rng.uniform(*LATENCY_S), 2))
        price = rng.randint(*PRICE_CENTS)
        due = round(now + latency, 6)
        queue = self._queue_url(reply_to)

        def reply(at: float) -> None:
            self.quote(at, supplier, correlation_id, price, queue=queue, asked_at=now)

        heapq.heappush(self._due, (due, next(self._order), reply))

    def _queue_url(self, reply_to: str) -> str:
        """A return address is a queue URL; a bare queue name is looked up, as a courtesy."""
        if "://" in reply_to:
            return reply_to
        return self.sqs.get_queue_url(QueueName=reply_to)["QueueUrl"]

    def quotes_for(self, since: float, until: float) -> list[Sent]:
        """The suppliers' answers to requests picked up from ``since`` on, sent by ``until``."""
        return [s for s in self.sent if s.kind == "quote" and s.asked_at is not None
                and s.asked_at >= since and s.at <= until]
