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
from .common import Queues, fresh_queues, handlers, no_real_time, plain_table, rig

REDRIVE = ("receive from the dead-letter queue until it is empty (10 messages per receive at "
           "most), send each message to the queue with its body and attributes, and delete it "
           "from the dead-letter queue only once it is sent.")


def dead_letters(count: int) -> list[tuple[str, dict[str, Any]]]:
    tenants = ("tenant-a", "tenant-b", "tenant-q4")
    return [(tenants[n % 3], {"tenant_id": tenants[n % 3], "order_id": f"o-{4000 + n}",
                              "amount": float(10 + n)}) for n in range(count)]


def moved_messages(t: Trial, messages: list[dict[str, Any]]) -> Counter[str]:
    """Each message as its body and every attribute (name=value), sorted: a message that
    comes back without its reason or with its tenant rebuilt from the body differs."""
    found: Counter[str] = Counter()
    for message in messages:
        attributes = message.get("MessageAttributes", {})
        found[described(message["Body"], {name: value.get("StringValue")
                                          for name, value in attributes.items()})] += 1
    return found


def described(body: str, attributes: dict[str, Any]) -> str:
    return body + "".join(f" {name}={attributes[name]}" for name in sorted(attributes))


def difference(want: Counter[str], got: Counter[str]) -> str:
    text = describe_difference(want, got, "the dead letters")
    missing, extra = list(want - got), list(got - want)
    if missing and extra:
        text += f"; for example {short(missing[0], 150)} came back as {short(extra[0], 150)}"
    return text


def stop_learner(queues: Queues) -> str:
    """After a timeout, delete the check's queues: the learner's loop, still running in its
    thread, fails on its next call instead of moving messages behind the next check."""
    for url in (queues.url, queues.dlq_url):
        try:
            queues.sqs.delete_queue(QueueUrl=url)
        except Exception:  # noqa: BLE001 - gone already is fine
            pass
    return ("; the check deleted its queues so that your loop stops (receiving with "
            "VisibilityTimeout=0 or never deleting makes the dead-letter queue endless)")


def call_redrive(t: Trial, redrive: Any, queues: Queues) -> Any:
    try:
        return call_with_timeout(redrive, queues.sqs, queues.dlq_url, queues.url,
                                 timeout=t.timeout)
    except Raised as raised:
        t.expect(False, "a result", f"it raised {raised}{raised.where}", hint=REDRIVE)
    except TimedOut as slow:
        t.expect(False, "a result", f"your function {slow}{stop_learner(queues)}",
                 hint=REDRIVE)
    return None


def check_moves(redrive: Any, t: Trial) -> None:
    queues = fresh_queues(t.lab, "check-redrive")
    with t.case("an empty dead-letter queue: nothing moved"):
        moved = call_redrive(t, redrive, queues)
        t.expect(moved == 0 and not isinstance(moved, bool) and queues.depth(queues.url) == 0,
                 "0 and an empty queue",
                 f"returned {short(moved)}, {queues.depth(queues.url)} messages on the queue",
                 sent="redrive(sqs, dlq_url, queue_url) with nothing dead")
    letters = dead_letters(23)
    queues.send_many(queues.dlq_url, [(body, {"tenant_id": tenant, "reason": "partner down"})
                                      for tenant, body in letters])
    want = Counter(described(json.dumps(body), {"tenant_id": tenant, "reason": "partner down"})
                   for tenant, body in letters)
    sent = "redrive(sqs, dlq_url, queue_url) with 23 dead letters of 3 tenants"
    with t.case("23 dead letters: each back on the queue once, with its tenant"):
        moved = call_redrive(t, redrive, queues)
        back = queues.drain(queues.url)
        got = moved_messages(t, back)
        t.expect(got == want, "the 23 messages, each once, body and every attribute intact "
                 "(tenant_id, reason)", difference(want, got), sent=sent,
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


class FailingSends:
    """Faults on the first send of each kind on one client, as a network would have them.

    ``raising``: the first SendMessage and the first SendMessageBatch fail with a connection
    error. Otherwise the first SendMessageBatch of two or more entries half fails: its last
    entry is not sent and comes back in the response's ``Failed`` list, as SQS reports an
    entry it could not take."""

    def __init__(self, raising: bool) -> None:
        self.raising = raising
        self.failed: set[str] = set()
        self.dropped: str | None = None
        self.faults = 0

    def before(self, params: dict[str, Any], model: Any, **_: Any) -> None:
        if model.name not in ("SendMessage", "SendMessageBatch") or model.name in self.failed:
            return
        if self.raising:
            self.failed.add(model.name)
            self.faults += 1
            raise EndpointConnectionError(endpoint_url="the payments queue (simulated)")
        entries = params.get("Entries")
        if model.name == "SendMessageBatch" and isinstance(entries, list) and len(entries) > 1:
            self.failed.add(model.name)
            self.faults += 1
            self.dropped = str(entries[-1].get("Id"))
            params["Entries"] = entries[:-1]  # a new list: the learner's own stays whole

    def after(self, parsed: dict[str, Any], model: Any, **_: Any) -> None:
        if model.name == "SendMessageBatch" and self.dropped is not None:
            parsed.setdefault("Failed", []).append({
                "Id": self.dropped, "SenderFault": False, "Code": "InternalError",
                "Message": "simulated: the entry was not sent"})
            self.dropped = None


def check_failing_send(redrive: Any, queues: Queues, t: Trial) -> None:
    """Run last on its queues: what the learner received stays invisible for a while."""
    kept_before = 0
    for raising in (True, False):
        letters = dead_letters(6)
        queues.send_many(queues.dlq_url, [({**body, "order_id": f"{body['order_id']}-"
                                            f"{'x' if raising else 'p'}"},
                                           {"tenant_id": tenant, "reason": "partner down"})
                                          for tenant, body in letters])
        faults = FailingSends(raising)
        what = ("the first send and the first batch send fail (EndpointConnectionError)"
                if raising else "the first batch send takes 5 of 6 entries (the last one in "
                                "its Failed list)")
        case = ("a send that fails midway: no dead letter lost" if raising else
                "a batch send that half fails: no dead letter lost")
        with t.case(case), handlers(queues.sqs, ("before-parameter-build.sqs", faults.before),
                                    ("after-call.sqs", faults.after)):
            try:
                call_with_timeout(redrive, queues.sqs, queues.dlq_url, queues.url,
                                  timeout=t.timeout)
            except Raised:
                pass  # raising on a network error is fine; losing a message is not
            except TimedOut as slow:
                t.expect(False, "a result", f"your function {slow}{stop_learner(queues)}",
                         hint=REDRIVE)
            kept = queues.depth(queues.url) + queues.depth(queues.dlq_url) - kept_before
            t.expect(kept >= len(letters),
                     f"all {len(letters)} messages on the queue or still in the dead-letter "
                     "queue", f"{kept} left in both: {len(letters) - kept} lost", hint=REDRIVE,
                     sent=f"redrive(...) with {len(letters)} dead letters, where {what}",
                     code_hint="send a message first, delete it from the dead-letter queue "
                               "after, and only the entries a batch send lists as Successful: "
                               "a crash in between leaves a duplicate (which idempotency "
                               "absorbs), never a loss.")
        kept_before += kept


def learner(t: Trial, what: str, hint: str, queues: Queues):
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
            t.expect(False, what, f"{getattr(fn, '__name__', 'your function')} {slow}"
                     f"{stop_learner(queues)}", hint=hint)
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
        seen = r.deliveries()
        try:
            with seen.watching(r.worker_client):
                report = run_drill(r.worker(), r.partner, r.queues.sqs, (r.queues.url,
                                   r.queues.dlq_url), lambda: raw_items(t.lab, table.name),
                                   process_batch, redrive, orders,
                                   call=learner(t, "the drill run to its end", REDRIVE, r.queues),
                                   after_kill=seen.release)
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
    with handlers(t.lab.client("sqs"), ("before-parameter-build.sqs", no_real_time)):
        check_moves(redrive, t)
        check_drill(redrive, process_batch, t)
