"""Check 6.3: redrive. Once the partner is back, the dead-letter queue's messages go back to
the queue (moto has no StartMessageMoveTask, so the lab's own loop does it) and the worker
finishes them; then a whole fault-injection drill is counted.

Messages are compared as multisets of bodies with their tenant attribute, read with the kit's
own client: a message moved twice, left behind or stripped of its tenant is three different
mistakes and the report names each. The drill runs the learner's worker and redrive against
a partner with 30% failures, slow calls, an outage and a worker killed mid-batch, and counts
where every order ended: the partner's ledger, the status records, the dead-letter queue.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

from botocore.exceptions import EndpointConnectionError

from environment.app.partners import WorkerKilled
from environment.app.partners.drill import DRILL, DrillStuck, drill_orders, run_drill

from ..framework import NotStarted, Raised, TimedOut, Trial, call_with_timeout, exercise, short
from ..scratch import raw_items
from ..shapes import describe_difference
from .common import Queues, fresh_queues, plain_table, rig

REDRIVE = ("receive from the dead-letter queue until it is empty (10 messages per receive at "
           "most), send each message to the queue with its body and attributes, and delete it "
           "from the dead-letter queue only once it is sent.")


def dead_letters(count: int) -> list[tuple[str, dict[str, Any]]]:
    tenants = ("tenant-a", "tenant-b", "tenant-q4")
    return [(tenants[n % 3], {"tenant_id": tenants[n % 3], "order_id": f"o-{4000 + n}",
                              "amount": float(10 + n)}) for n in range(count)]


def moved_messages(t: Trial, messages: list[dict[str, Any]]) -> Counter[str]:
    found: Counter[str] = Counter()
    for message in messages:
        tenant = message.get("MessageAttributes", {}).get("tenant_id", {}).get("StringValue")
        found[f"{message['Body']} tenant_id={tenant}"] += 1
    return found


def check_moves(redrive: Any, t: Trial) -> None:
    queues = fresh_queues(t.lab, "check-redrive")
    sqs = queues.sqs
    with t.case("an empty dead-letter queue: nothing moved"):
        moved = t.call(redrive, sqs, queues.dlq_url, queues.url, hint=REDRIVE)
        t.expect(moved == 0 and not isinstance(moved, bool) and queues.depth(queues.url) == 0,
                 "0 and an empty queue",
                 f"returned {short(moved)}, {queues.depth(queues.url)} messages on the queue",
                 sent="redrive(sqs, dlq_url, queue_url) with nothing dead")
    letters = dead_letters(23)
    queues.send_many(queues.dlq_url, [(body, {"tenant_id": tenant, "reason": "partner down"})
                                      for tenant, body in letters])
    want = Counter(f"{json.dumps(body)} tenant_id={tenant}" for tenant, body in letters)
    sent = "redrive(sqs, dlq_url, queue_url) with 23 dead letters of 3 tenants"
    with t.case("23 dead letters: each back on the queue once, with its tenant"):
        moved = t.call(redrive, sqs, queues.dlq_url, queues.url, hint=REDRIVE)
        back = queues.drain(queues.url)
        got = moved_messages(t, back)
        t.expect(got == want, "the 23 messages, each once, body and tenant_id attribute intact",
                 describe_difference(want, got, "the dead letters"), sent=sent,
                 hint="one receive returns at most 10 messages: keep receiving until the "
                      "dead-letter queue is empty, and send the MessageAttributes along (the "
                      "tenant context travels there).",
                 code_hint="sqs.receive_message(QueueUrl=dlq_url, MaxNumberOfMessages=10, "
                           "MessageAttributeNames=['All']) in a loop; sqs.send_message("
                           "QueueUrl=queue_url, MessageBody=m['Body'], MessageAttributes="
                           "m.get('MessageAttributes', {}))")
    with t.case("23 dead letters: the dead-letter queue empty afterwards"):
        left = queues.depth(queues.dlq_url)
        t.expect(left == 0, "an empty dead-letter queue", f"{left} messages still there",
                 sent=sent, hint="delete each message from the dead-letter queue once it is "
                                 "sent; left there, it is redriven (and paid for) again.")
    with t.case("23 dead letters: the count of messages moved"):
        t.expect(moved == 23 and not isinstance(moved, bool), "23", short(moved), sent=sent,
                 hint="return how many messages you moved.")
    check_failing_send(redrive, queues, t)


class FailingSend:
    """Fails the ``nth`` send (or send batch) on one client, as a network error would."""

    def __init__(self, nth: int) -> None:
        self.nth, self.sends = nth, 0

    def __call__(self, model: Any, **_: Any) -> None:
        if model.name in ("SendMessage", "SendMessageBatch"):
            self.sends += 1
            if self.sends == self.nth:
                raise EndpointConnectionError(endpoint_url="the payments queue (simulated)")


def check_failing_send(redrive: Any, queues: Queues, t: Trial) -> None:
    """Run last on its queues: what the learner received stays invisible for a while."""
    letters = dead_letters(6)
    queues.send_many(queues.dlq_url, [({**body, "order_id": body["order_id"] + "-b"},
                                       {"tenant_id": tenant, "reason": "partner down"})
                                      for tenant, body in letters])
    failing = FailingSend(3)
    events = queues.sqs.meta.events
    with t.case("a send that fails midway: no dead letter lost"):
        events.register("before-call.sqs", failing)
        try:
            call_with_timeout(redrive, queues.sqs, queues.dlq_url, queues.url, timeout=t.timeout)
        except (Raised, TimedOut):
            pass  # raising on a network error is fine; losing a message is not
        finally:
            events.unregister("before-call.sqs", failing)
        kept = queues.depth(queues.url) + queues.depth(queues.dlq_url)
        t.expect(failing.sends < 3 or kept >= len(letters),
                 f"all {len(letters)} messages on the queue or still in the dead-letter queue",
                 f"{kept} left in both: {len(letters) - kept} lost", hint=REDRIVE,
                 sent="redrive(...) with 6 dead letters, where the third send fails "
                      "(EndpointConnectionError)",
                 code_hint="send a message first, delete it from the dead-letter queue after: "
                           "a crash in between leaves a duplicate (which idempotency absorbs), "
                           "never a loss.")


def learner(t: Trial, what: str, hint: str):
    """Runs learner code for the drill: a mistake becomes a report, WorkerKilled goes through."""

    def call(fn: Any, *args: Any) -> Any:
        try:
            return call_with_timeout(fn, *args, timeout=t.timeout)
        except Raised as raised:
            if isinstance(raised.error, WorkerKilled):
                raise raised.error from None
            t.expect(False, what, f"{getattr(fn, '__name__', 'your function')} raised "
                              f"{raised}{raised.where}", hint=hint)
        except TimedOut as slow:
            t.expect(False, what, f"{getattr(fn, '__name__', 'your function')} {slow}",
                     hint=hint)
        except NotStarted:
            raise
        return None

    return call


def check_drill(redrive: Any, process_batch: Any, t: Trial) -> None:
    orders = drill_orders()
    sent = (f"{len(orders)} orders of 4 tenants; the partner fails 30% of calls, is slow on "
            "10%, is down from t=15 s to t=120 s; the first worker is killed after its third "
            "charge; then the partner recovers and the DLQ is redriven")
    table = plain_table(t.lab, "check-payments")
    with rig(t.lab, DRILL, table) as r, t.case("the drill: every order paid or dead-lettered "
                                               "with a reason, none lost, none twice"):
        try:
            report = run_drill(r.worker(), r.partner, r.queues.sqs, (r.queues.url,
                               r.queues.dlq_url), lambda: raw_items(t.lab, table.name),
                               process_batch, redrive, orders,
                               call=learner(t, "the drill run to its end", REDRIVE))
        except DrillStuck as stuck:
            t.expect(False, "the queue emptied by the worker", str(stuck), sent=sent)
        t.expect(not report.twice, "no order charged twice",
                 f"charged more than once: {report.twice}", sent=sent)
        t.expect(not report.lost, "every order paid or dead-lettered with a reason",
                 f"neither (lost): {report.lost[:6]}; {report.summary()}", sent=sent,
                 hint="an order that the partner charged must end 'paid'; one in the "
                      "dead-letter queue must not also be paid; look at what happens to a "
                      "redriven message whose order failed before.")
        moved = report.moved
        t.expect(isinstance(moved, int) and not isinstance(moved, bool) and moved > 0
                 and len(report.paid) >= len(orders) - 1,
                 "the dead-lettered payments paid after the redrive (and their count returned)",
                 report.summary(), sent=sent)


@exercise("6.3", "redrive: the dead letters back to the queue, then finished",
          ("redrive", "process_batch"),
          hint=REDRIVE,
          code_hint="while True: page = sqs.receive_message(QueueUrl=dlq_url, "
                    "MaxNumberOfMessages=10, MessageAttributeNames=['All']).get('Messages', "
                    "[]); if not page: break; for m in page: sqs.send_message(...); "
                    "sqs.delete_message(QueueUrl=dlq_url, ReceiptHandle=m['ReceiptHandle'])")
def check_redrive(redrive: Any, process_batch: Any, t: Trial) -> None:
    check_moves(redrive, t)
    check_drill(redrive, process_batch, t)
