"""A discrete-event model of producers, queues and consumers (seeded load, simulated time).

Each queue has one consumer that takes one message at a time and needs ``1 / rate`` seconds for
it; the strategies under comparison get the same total consumer capacity, split over their
queues. A producer asks ``route(tenant, backlog)`` where a message goes, with ``backlog`` the
number of messages waiting in each queue at that instant (what SQS reports as
``ApproximateNumberOfMessages``). A message whose route names no queue of the layout is *lost*:
nothing consumes it, and the experiments count sent against served to prove none is.

A queue is first-in first-out, like a standard SQS queue under light load, or *fair*: a model of
SQS fair queues, which AWS does not document as code. The rule modelled is AWS's description: a
message group (the tenant) is noisy when it holds more than 10% of the queue's messages and at
least 30 of them, and the consumer is given the oldest message of a group that is not noisy
first. AWS counts messages *in flight*; our consumers take one message at a time, so the model
counts the messages waiting instead (when the consumer picks, it holds none). Nothing is
dropped: noisy messages wait.
"""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from .load import Message

Route = Callable[[str, Mapping[str, int]], object]  # (tenant, backlog) -> a queue's name
NOISY_SHARE, NOISY_MINIMUM = 0.10, 30  # AWS's thresholds for a noisy message group


@dataclass(frozen=True)
class Served:
    message: Message
    queue: str
    started_at: float

    @property
    def delay(self) -> float:
        """Seconds the message waited in its queue before a consumer took it."""
        return self.started_at - self.message.sent_at


@dataclass
class Run:
    served: list[Served] = field(default_factory=list)
    lost: list[tuple[Message, object]] = field(default_factory=list)  # (message, where it went)

    def sent(self) -> Counter[str]:
        return Counter(s.message.tenant for s in self.served) + \
            Counter(m.tenant for m, _ in self.lost)

    def delays(self, tenants: Iterable[str] | None = None) -> list[float]:
        wanted = None if tenants is None else set(tenants)
        return [s.delay for s in self.served if wanted is None or s.message.tenant in wanted]


class FifoQueue:
    def __init__(self) -> None:
        self.waiting: deque[Message] = deque()

    def __len__(self) -> int:
        return len(self.waiting)

    def put(self, message: Message) -> None:
        self.waiting.append(message)

    def take(self) -> Message:
        return self.waiting.popleft()


class FairQueue:
    """One standard queue whose message group is the tenant, delivered the fair way."""

    def __init__(self) -> None:
        self.groups: dict[str, deque[Message]] = {}
        self.size = 0

    def __len__(self) -> int:
        return self.size

    def put(self, message: Message) -> None:
        self.groups.setdefault(message.tenant, deque()).append(message)
        self.size += 1

    def noisy(self) -> set[str]:
        return {tenant for tenant, group in self.groups.items()
                if len(group) >= NOISY_MINIMUM and len(group) > NOISY_SHARE * self.size}

    def take(self) -> Message:
        noisy = self.noisy()
        heads = [group[0] for tenant, group in self.groups.items() if group]
        calm = [m for m in heads if m.tenant not in noisy]
        chosen = min(calm or heads)
        group = self.groups[chosen.tenant]
        group.popleft()
        if not group:
            del self.groups[chosen.tenant]
        self.size -= 1
        return chosen


class Consumer:
    """A queue and the one consumer that drains it at ``rate`` messages per second."""

    def __init__(self, name: str, rate: float, fair: bool) -> None:
        self.name, self.service = name, 1.0 / rate
        self.queue: FifoQueue | FairQueue = FairQueue() if fair else FifoQueue()
        self.free_at = 0.0  # when the consumer finishes the message it holds

    def advance(self, now: float, served: list[Served]) -> None:
        """Serve every message whose turn comes before ``now``."""
        while len(self.queue) and self.free_at <= now:
            message = self.queue.take()
            start = max(self.free_at, message.sent_at)
            served.append(Served(message, self.name, start))
            self.free_at = start + self.service

    def arrive(self, message: Message, served: list[Served]) -> None:
        if not len(self.queue) and self.free_at <= message.sent_at:
            served.append(Served(message, self.name, message.sent_at))
            self.free_at = message.sent_at + self.service
        else:
            self.queue.put(message)


def simulate(messages: Iterable[Message], route: Route, capacity: Mapping[str, float],
             fair: bool = False) -> Run:
    """Send every message where ``route`` says, consume at ``capacity`` (name -> messages/s).

    Runs until every queue is empty. ``route`` is learner code: it is called once per message,
    in order of sending, with a read-only view of the backlog.
    """
    consumers = {name: Consumer(name, rate, fair) for name, rate in capacity.items()}
    backlog: dict[str, int] = dict.fromkeys(consumers, 0)
    view = MappingProxyType(backlog)
    run = Run()
    for message in messages:
        for consumer in consumers.values():
            consumer.advance(message.sent_at, run.served)
            backlog[consumer.name] = len(consumer.queue)
        where = route(message.tenant, view)
        consumer = consumers.get(where) if isinstance(where, str) else None
        if consumer is None:
            run.lost.append((message, where))
            continue
        consumer.arrive(message, run.served)
        backlog[consumer.name] = len(consumer.queue)
    for consumer in consumers.values():
        consumer.advance(float("inf"), run.served)
    return run
