"""The same strategies on real SQS queues of the emulator: a short run in ticks, not seconds.

The discrete-event model answers in simulated seconds; this run lets SQS itself hold the
messages. Time is counted in ticks driven by a loop (no sleeps, no wall clock): in each tick the
producers send that tick's messages where the strategy says (with ``SendMessageBatch``), then
each queue's consumer receives at most its share of the capacity and deletes what it got. A
message's delay is the tick it was received minus the tick it was sent (the tick travels in the
body), so the numbers are the same on every run. The queues are created with the settings'
name prefix for the run and deleted at its end, whatever happens.

The emulator does not implement SQS fair queues (it accepts ``MessageGroupId`` on a standard
queue and delivers in order of arrival), so the fair strategy is not part of this run.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from ...settings import Settings
from .measure import Summary, percentile
from .strategies import Layout

RUN_PREFIX = "noisy-"


@dataclass(frozen=True)
class LiveSetup:
    """Four tenants; per tick each sends one message, the noisy one ``flood`` more for a while."""

    tenants: tuple[str, ...] = ("tenant-a", "tenant-b", "tenant-c", "tenant-d")
    noisy: str = "tenant-d"
    flood: int = 9
    flood_ticks: tuple[int, int] = (3, 9)
    ticks: int = 16
    capacity: int = 8  # messages per tick for all consumers together

    def sends(self, tick: int) -> list[str]:
        extra = self.flood if self.flood_ticks[0] <= tick < self.flood_ticks[1] else 0
        return list(self.tenants) + [self.noisy] * extra


def _create(settings: Settings, names: Sequence[str]) -> dict[str, str]:
    sqs = settings.client("sqs")
    return {name: sqs.create_queue(QueueName=settings.name(RUN_PREFIX + name),
                                   tags={"lab": settings.prefix.rstrip("-")})["QueueUrl"]
            for name in names}


def _delete(settings: Settings, urls: dict[str, str]) -> None:
    sqs = settings.client("sqs")
    for url in urls.values():
        sqs.delete_queue(QueueUrl=url)


def run_layout(settings: Settings, setup: LiveSetup, layout: Layout) -> Summary:
    """One strategy on real queues: quiet tenants' p50/p99 delay in ticks, sent and served."""
    if layout.fair:
        raise ValueError("the emulator has no fair queues: run the fair strategy in the model")
    sqs = settings.client("sqs")
    per_queue = {name: max(1, round(setup.capacity * rate / sum(layout.capacity.values())))
                 for name, rate in layout.capacity.items()}
    urls = _create(settings, list(layout.capacity))
    waiting: Counter[str] = Counter()
    delays: list[tuple[str, int]] = []
    sent = 0
    try:
        tick = 0
        while tick < setup.ticks or sum(waiting.values()):
            batches: dict[str, list[dict]] = {}
            for tenant in setup.sends(tick) if tick < setup.ticks else []:
                where = layout.route(tenant, {name: waiting[name] for name in urls})
                if where not in urls:
                    raise ValueError(f"the strategy sent a message of {tenant} to {where!r}")
                body = json.dumps({"tenant": tenant, "tick": tick, "n": sent})
                batches.setdefault(where, []).append({"Id": str(sent), "MessageBody": body})
                waiting[where] += 1
                sent += 1
            for where, entries in batches.items():
                for start in range(0, len(entries), 10):
                    sqs.send_message_batch(QueueUrl=urls[where], Entries=entries[start:start + 10])
            for name, url in urls.items():
                if waiting[name]:
                    got = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=0,
                                              MaxNumberOfMessages=min(10, per_queue[name]))
                    messages = got.get("Messages", [])
                    for message in messages:
                        body = json.loads(message["Body"])
                        delays.append((body["tenant"], tick - body["tick"]))
                    if messages:
                        sqs.delete_message_batch(QueueUrl=url, Entries=[
                            {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]}
                            for i, m in enumerate(messages)])
                    waiting[name] -= len(messages)
            tick += 1
            if tick > 20 * setup.ticks:
                raise RuntimeError("the live run did not drain its queues")
    finally:
        _delete(settings, urls)
    quiet = [d for tenant, d in delays if tenant != setup.noisy]
    return Summary(layout.name, percentile(quiet, 50), percentile(quiet, 99), sent, len(delays))


HEADER = f"{'strategy':<24} {'p50 (ticks)':>11} {'p99 (ticks)':>11} {'sent':>5} {'served':>6}"


def row(summary: Summary) -> str:
    return (f"{summary.strategy:<24} {summary.p50:>11.0f} {summary.p99:>11.0f} "
            f"{summary.sent:>5} {summary.served:>6}")


def fair_queue_accepts_message_groups(settings: Settings) -> dict[str, str]:
    """Send to a standard queue with ``MessageGroupId`` = tenant, read back the group ids.

    What the emulator shows: the parameter is accepted and kept on the message. What it does
    not: the fair delivery order, which the model plays instead.
    """
    sqs = settings.client("sqs")
    urls = _create(settings, ["fair"])
    try:
        for tenant in ("tenant-d", "tenant-a"):
            sqs.send_message(QueueUrl=urls["fair"], MessageBody=f"an order of {tenant}",
                             MessageGroupId=tenant)
        got = sqs.receive_message(QueueUrl=urls["fair"], MaxNumberOfMessages=10,
                                  WaitTimeSeconds=0,
                                  MessageSystemAttributeNames=["MessageGroupId"])
        return {m["Body"]: m.get("Attributes", {}).get("MessageGroupId", "(none)")
                for m in got.get("Messages", [])}
    finally:
        _delete(settings, urls)
