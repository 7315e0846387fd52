"""Check 6.2: idempotency. One key per order and tenant, claimed with a conditional write,
and a worker that never charges twice, even when it dies after the partner call.

Records are read back with the kit's own client; charges are counted in the partner's own
ledger; a worker's death is arranged by the partner client the check hands over (it dies once
a charge has come back, before anything is recorded or deleted) and the message comes back
because the queue's visibility timeout is 0, so nothing waits. A race between two claims is
forced, not hoped for: the check holds each claim's first write until both have reached one.
"""

from __future__ import annotations

import json
import threading
from typing import Any

from botocore.exceptions import ClientError

from environment.app.partners import Scenario
from environment.app.partners.records import payment_key

from ..framework import NotStarted, Raised, TimedOut, Trial, call_with_timeout, exercise, short
from ..scratch import ScratchTable, raw_items
from .common import (
    MAX_RECEIVES,
    Deliveries,
    Rig,
    audited_table,
    charges_by_order,
    handlers,
    payment_record,
    rig,
    run_until_empty,
    run_worker,
)

WRITES = frozenset({"PutItem", "UpdateItem", "TransactWriteItems", "BatchWriteItem"})
CLAIM = ("claim with one conditional write: put the record only if it does not exist "
         "(attribute_not_exists); if the condition fails, the order is already claimed: read "
         "its key and return that.")
WORKER = ("for each message of one receive: claim the order's key, charge with that key, "
          "record the outcome, and delete the message only after that; a PaymentFailed goes "
          "to the dead-letter queue with its reason (and is deleted from the queue).")


def refused_writes(model: Any, **_: Any) -> None:
    """Every write refused as a throttled table refuses it (``before-call.dynamodb``)."""
    if model.name in WRITES | {"TransactWriteItems"}:
        raise ClientError({"Error": {"Code": "ProvisionedThroughputExceededException",
                                     "Message": "simulated: the table refuses writes"}},
                          model.name)


class HeldWrites:
    """Holds the first write of each of ``parties`` threads until all have reached one."""

    def __init__(self, parties: int = 2, wait_s: float = 3.0) -> None:
        self.parties, self.wait_s = parties, wait_s
        self.arrived = 0
        self.lock = threading.Lock()
        self.everyone = threading.Event()

    def __call__(self, model: Any, **_: Any) -> None:
        if model.name not in WRITES or self.everyone.is_set():
            return
        with self.lock:
            self.arrived += 1
            if self.arrived >= self.parties:
                self.everyone.set()
        self.everyone.wait(self.wait_s)


record_of = payment_record


ITEM_CALLS = frozenset({"GetItem", "PutItem", "UpdateItem", "Query", "DescribeTable",
                        "TransactWriteItems", "TransactGetItems"})


def check_claim(claim_payment: Any, scratch: ScratchTable, t: Trial) -> None:
    table = scratch.table
    mark = scratch.mark()
    sent = "claim_payment(table, 'tenant-a', 'o-2001')"
    with t.case("a new order: a key, and a pending record in the tenant's partition"):
        key = t.call(claim_payment, table, "tenant-a", "o-2001")
        t.expect(isinstance(key, str) and key.strip() != "", "the key (a non-empty str)",
                 short(key), sent=sent)
        record = record_of(t.lab, scratch.name, "tenant-a", "o-2001")
        t.expect(record is not None, "a record at pk TENANT#tenant-a, sk PAYMENT#o-2001",
                 f"items {[(i.get('pk'), i.get('sk')) for i in raw_items(t.lab, scratch.name)]}",
                 sent=sent, hint="the record lives in the tenant's partition, next to its "
                                 "orders: that is what makes it tenant-scoped.")
        t.expect(record.get("idempotency_key") == key and record.get("status") == "pending",
                 f"idempotency_key {key!r} and status 'pending' in the record", short(record),
                 sent=sent)
    with t.case("the same order again: the same key"):
        again = t.call(claim_payment, table, "tenant-a", "o-2001")
        t.expect(again == key, f"the key {key!r} again", short(again), sent=sent,
                 hint="a redelivered message must charge with the key of the first attempt.")
    with t.case("another tenant's order with the same id: a key and a record of its own"):
        other = t.call(claim_payment, table, "tenant-b", "o-2001")
        t.expect(isinstance(other, str) and other != key and other.strip() != "",
                 f"a key other than tenant-a's {key!r}", short(other),
                 sent="claim_payment(table, 'tenant-b', 'o-2001')",
                 hint="order ids are unique within a tenant only; with the same key, the "
                      "partner would replay tenant-a's charge for tenant-b, who never pays.")
        t.expect(record_of(t.lab, scratch.name, "tenant-b", "o-2001") is not None,
                 "a record at TENANT#tenant-b / PAYMENT#o-2001", "none")
    with t.case("a paid order stays paid"):
        scratch.put_many([{**payment_key("tenant-a", "o-2002"), "tenant_id": "tenant-a",
                           "order_id": "o-2002", "idempotency_key": "k-paid-2002",
                           "status": "paid", "charge_id": "ch_00042"}])
        got = t.call(claim_payment, table, "tenant-a", "o-2002")
        record = record_of(t.lab, scratch.name, "tenant-a", "o-2002") or {}
        t.expect(got == "k-paid-2002" and record.get("status") == "paid",
                 "its key 'k-paid-2002' and status 'paid' untouched",
                 f"returned {short(got, 60)}, record {short(record)}",
                 sent="claim_payment(table, 'tenant-a', 'o-2002')", hint=CLAIM)
    with t.case("a failed order keeps its key"):
        scratch.put_many([{**payment_key("tenant-a", "o-2004"), "tenant_id": "tenant-a",
                           "order_id": "o-2004", "idempotency_key": "k-failed-2004",
                           "status": "failed", "reason": "503: temporarily unavailable"}])
        got = t.call(claim_payment, table, "tenant-a", "o-2004")
        record = record_of(t.lab, scratch.name, "tenant-a", "o-2004") or {}
        t.expect(got == "k-failed-2004" and record.get("idempotency_key") == "k-failed-2004",
                 "its key 'k-failed-2004', returned and still stored",
                 f"returned {short(got, 60)}, record {short(record)}",
                 sent="claim_payment(table, 'tenant-a', 'o-2004') (its record says failed)",
                 hint="a failure may have charged the card (a timeout that went through): the "
                      "retry after a redrive must carry the same key, so a failed claim is "
                      "never released or replaced. " + CLAIM)
    with t.case("a write refused for another reason: the error goes up"):
        with handlers(table.meta.client, ("before-call.dynamodb", refused_writes)):
            t.rejects(claim_payment, table, "tenant-a", "o-2005", accept=(ClientError,),
                      sent="claim_payment(table, 'tenant-a', 'o-2005') while DynamoDB refuses "
                           "writes (ProvisionedThroughputExceededException)",
                      hint="only ConditionalCheckFailedException means 'already claimed'; "
                           "any other error (throttling, access denied) must go up, or the "
                           "worker charges with a key nobody stored.",
                      code_hint="except ClientError as error: if error.response['Error']"
                                "['Code'] != 'ConditionalCheckFailedException': raise")
    with t.case("two workers claim one order at once: one key"):
        held = HeldWrites()
        table.meta.client.meta.events.register("before-call.dynamodb", held)
        try:
            keys = race(claim_payment, table, t)
        finally:
            table.meta.client.meta.events.unregister("before-call.dynamodb", held)
        record = record_of(t.lab, scratch.name, "tenant-c", "o-2003") or {}
        t.expect(all(isinstance(k, str) and k.strip() for k in keys),
                 "a key (a non-empty str) from each claim", f"returned {short(keys, 160)}",
                 sent="claim_payment(table, 'tenant-c', 'o-2003') in two threads at once",
                 hint="the claim that loses the race returns the stored key, "
                      "get_item(...)['Item']['idempotency_key'], not the response. " + CLAIM)
        t.expect(len(set(keys)) == 1 and record.get("idempotency_key") == keys[0],
                 "both get the key that is stored", f"keys {keys}, stored "
                 f"{record.get('idempotency_key')!r}", sent="claim_payment(table, 'tenant-c', "
                 "'o-2003') in two threads at once", hint="read-then-write has a gap: both "
                 "read 'nothing there', both write, each returns its own key. " + CLAIM,
                 code_hint="table.put_item(Item=..., ConditionExpression="
                           "'attribute_not_exists(pk)'), and on ConditionalCheckFailedException "
                           "table.get_item(Key=..., ConsistentRead=True)")
    if not scratch.observed:
        t.skip("claims touch their own record only", "only the embedded emulator has an audit "
               "trail")
        return
    with t.case("claims touch their own record only: no Scan"):
        calls = scratch.calls_since(mark)
        t.expect(set(calls) <= ITEM_CALLS, "item reads and writes by key (GetItem, PutItem, "
                 "UpdateItem)", f"calls {dict(calls)}",
                 hint="the record's key is known (TENANT#<tenant> / PAYMENT#<order>): a Scan "
                      "for it reads every tenant's payment records.")


def race(claim_payment: Any, table: Any, t: Trial) -> list[Any]:
    results: list[Any] = [None, None]

    def one(n: int) -> None:
        try:
            results[n] = call_with_timeout(claim_payment, table, "tenant-c", "o-2003",
                                           timeout=t.timeout)
        except (Raised, TimedOut) as error:
            results[n] = error
        except NotStarted:
            results[n] = None

    threads = [threading.Thread(target=one, args=(n,), daemon=True) for n in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(t.timeout + 1)
    for result in results:
        if isinstance(result, Raised | TimedOut):
            t.expect(False, "a key for each worker", f"one claim raised {result}", hint=CLAIM)
    return results


def payment_message(rig_: Rig, tenant: str, order: str, amount: float = 30.0,
                    body: dict[str, Any] | None = None) -> None:
    rig_.queues.send(rig_.queues.url, body or {"tenant_id": tenant, "order_id": order,
                                               "amount": amount}, tenant_id=tenant)


def keys_sent(rig_: Rig, tenant: str, order: str) -> list[str | None]:
    """The idempotency key of every call the partner saw for one order."""
    return [a.idempotency_key for a in rig_.partner.api.attempts
            if (a.tenant_id, a.order_id) == (tenant, order)]


KEY_OF_RECORD = ("charge with the key claim_payment returned, the one stored in the order's "
                 "record: a key made another way (a hash of the body, a new one per message or "
                 "attempt, none) differs for a duplicate or a retry, and the partner charges "
                 "again.")


def expect_stored_key(t: Trial, rig_: Rig, tenant: str, order: str, record: dict[str, Any],
                      sent: str) -> None:
    keys = keys_sent(rig_, tenant, order)
    stored = record.get("idempotency_key")
    t.expect(bool(keys) and all(k == stored for k in keys),
             f"{tenant}/{order}: every partner call with the stored key {stored!r}",
             f"keys {keys}", sent=sent, hint=KEY_OF_RECORD)


def expect_paid_once(t: Trial, rig_: Rig, orders: list[tuple[str, str]], sent: str) -> None:
    counted = charges_by_order(rig_.charges)
    twice = {k: n for k, n in counted.items() if n > 1}
    t.expect(not twice, "no order charged twice", f"charged more than once: {twice}", sent=sent,
             hint="the idempotency key belongs to the order (claimed once, stored), not to a "
                  "message or an attempt: a redelivered or duplicated message has the same "
                  "order and must get the same key.")
    for tenant, order in orders:
        record = record_of(rig_.table.lab, rig_.table.name, tenant, order) or {}
        t.expect(counted.get((tenant, order)) == 1 and record.get("status") == "paid"
                 and record.get("charge_id"),
                 f"{tenant}/{order}: charged once, record 'paid' with its charge_id",
                 f"{counted.get((tenant, order), 0)} charges, record {short(record)}",
                 sent=sent, hint="mark the record paid (with the charge id) before deleting "
                                 "the message; a message deleted first is lost if the worker "
                                 "dies in between.")
        charge_id = next(c["charge_id"] for c in rig_.charges
                         if (c["tenant_id"], c["order_id"]) == (tenant, order))
        t.expect(record.get("charge_id") == charge_id,
                 f"{tenant}/{order}: charge_id {charge_id!r}, the partner's", short(record),
                 sent=sent, hint="store charge['charge_id'] from what the partner returned: "
                                 "it is what a refund or a dispute will name.")
        expect_stored_key(t, rig_, tenant, order, record, sent)


def expect_recorded_first(t: Trial, seen: Deliveries, sent: str) -> None:
    t.expect(not seen.early, "each message deleted only once its record says paid or failed",
             f"deleted while not recorded yet: {seen.early}", sent=sent,
             hint="record the outcome first, delete the message last: a worker that dies "
                  "between the two loses a payment it deleted, and repeats one it did not.")


def check_worker(process_batch: Any, table: ScratchTable, t: Trial) -> None:
    # The first call hangs (and charges): the retry must carry the same key.
    with rig(t.lab, Scenario(script=("slow",) + ("ok",) * 3), table) as r:
        seen = r.deliveries()
        with seen.watching(r.worker_client):
            worker_cases(process_batch, r, seen, t)


def worker_cases(process_batch: Any, r: Rig, seen: Deliveries, t: Trial) -> None:
    orders = [("tenant-a", "o-3001"), ("tenant-b", "o-3001"), ("tenant-b", "o-3002")]
    for tenant, order in orders:
        payment_message(r, tenant, order)
    sent = "3 messages; the partner's first answer is late (it charged all the same)"
    with t.case("three payments of two tenants: each paid once, the queue empty"):
        run_until_empty(t, process_batch, r, r.worker(), WORKER)
        expect_paid_once(t, r, orders, sent)
        t.expect(r.queues.depth(r.queues.dlq_url) == 0, "an empty dead-letter queue",
                 f"{r.queues.depth(r.queues.dlq_url)} dead letters")
    with t.case("three payments: each recorded before its message is deleted"):
        expect_recorded_first(t, seen, sent)
    r.use(Scenario(seed=3))
    orders = [("tenant-a", "o-3101"), ("tenant-c", "o-3102")]
    for tenant, order in orders:
        payment_message(r, tenant, order)
    sent = "the worker dies after its first partner call, then runs again"
    with t.case("killed after the partner call: redelivered, finished, charged once"):
        ended = run_worker(t, process_batch, r.worker(kill_after=1), WORKER)
        t.expect(ended == "killed", "the worker killed by the check's partner client",
                 "it returned normally: it never called partner.charge, or a bare "
                 "except swallowed the kill", sent=sent)
        charged = (r.charges[0]["tenant_id"], r.charges[0]["order_id"])
        record = record_of(r.table.lab, r.table.name, *charged) or {}
        t.expect(record.get("status") == "pending",
                 f"{charged[0]}/{charged[1]} still 'pending' when the worker died (its charge "
                 "had only just come back)", short(record), sent=sent,
                 hint="mark the record paid once the partner said so, never before: a worker "
                      "that dies after writing 'paid' and before charging leaves a payment "
                      "that says paid and was never made.")
        seen.release()  # what the dead worker held comes back, as its visibility timeout would
        run_until_empty(t, process_batch, r, r.worker(), WORKER)
        expect_paid_once(t, r, orders, sent)
        expect_recorded_first(t, seen, sent)
    r.use(Scenario(seed=4))
    sent = ("the same order enqueued twice (two messages: amount 30 and 30.0, the fields in "
            "another order, one with a note)")
    with t.case("the same order enqueued twice: charged once"):
        payment_message(r, "tenant-d", "o-3201",
                        body={"tenant_id": "tenant-d", "order_id": "o-3201", "amount": 30})
        payment_message(r, "tenant-d", "o-3201",
                        body={"amount": 30.0, "order_id": "o-3201", "tenant_id": "tenant-d",
                              "note": "sent again by the order service"})
        run_until_empty(t, process_batch, r, r.worker(), WORKER)
        expect_paid_once(t, r, [("tenant-d", "o-3201")], sent)
    # The first call answers (a decline); after it, the partner is down for good.
    dead_letter_cases(t, process_batch,
                      r.use(Scenario(seed=5, script=("ok",), outages=((0.0, 10_000.0),))))


DEAD = (("tenant-a", "o-3301"), ("tenant-b", "o-3302"))
WORDS = {("tenant-a", "o-3301"): "declined"}  # what the partner said, in the reason


def dead_letter_cases(t: Trial, process_batch: Any, r: Rig) -> None:
    r.table.put_many([{**payment_key("tenant-c", "o-3303"), "tenant_id": "tenant-c",
                       "order_id": "o-3303", "idempotency_key": "k-paid-3303",
                       "status": "paid", "charge_id": "ch_03303"}])
    sent = ("a declined payment (tenant-a/o-3301), then one during an outage (tenant-b/o-3302) "
            "and a late duplicate of a paid one (tenant-c/o-3303), the partner down")
    with t.case("what cannot be paid: in the dead-letter queue once, with its reason"):
        # Alone first: the partner's first answer (the one it gives before going down).
        payment_message(r, "tenant-a", "o-3301", amount=25_000.0)  # declined: over the limit
        run_until_empty(t, process_batch, r, r.worker(), WORKER, limit=MAX_RECEIVES + 3)
        payment_message(r, "tenant-b", "o-3302")  # the partner is down for good
        payment_message(r, "tenant-c", "o-3303")  # paid already; a late duplicate fails
        run_until_empty(t, process_batch, r, r.worker(), WORKER, limit=MAX_RECEIVES + 3)
        dead = r.queues.drain(r.queues.dlq_url)
        found, kept = [], []
        for message in dead:
            try:
                body = json.loads(message["Body"])
            except ValueError:
                body = {}
            body = body if isinstance(body, dict) else {}
            if (body.get("tenant_id"), body.get("order_id")) == ("tenant-c", "o-3303"):
                continue  # paid already: a dead letter for it is harmless (it replays)
            reason = message.get("MessageAttributes", {}).get("reason", {}).get("StringValue")
            kept.append(message.get("MessageAttributes", {}).get("tenant_id", {})
                        .get("StringValue") or "none")
            found.append((body.get("tenant_id"), body.get("order_id"), reason))
        orders = sorted((tenant, order) for tenant, order, _ in found)
        t.expect(orders == list(DEAD), "each of the two orders once, with its original body",
                 f"dead letters for {orders}", sent=sent, hint=WORKER)
        reasons = {(tenant, order): reason for tenant, order, reason in found}
        t.expect(all(str(reasons[o] or "").strip() and WORDS.get(o, "") in str(reasons[o]).lower()
                     for o in DEAD),
                 "a 'reason' message attribute on each, in the partner's words (tenant-a/o-3301: "
                 "'... card declined ...')",
                 f"reasons {[reason for *_, reason in found]}", sent=sent,
                 hint="SQS moves a message it redelivered too often without saying why; a "
                      "dead letter the operator can act on names its reason: pass on what "
                      "the partner said (PaymentFailed.reason).",
                 code_hint="worker.dead_letters.send_message(MessageBody=message.body, "
                           "MessageAttributes={**message.message_attributes, 'reason': "
                           "{'DataType': 'String', 'StringValue': failed.reason}}) "
                           "then message.delete()")
    with t.case("what cannot be paid: the dead letters keep their tenant attribute"):
        tenants = [tenant for tenant, _ in DEAD]
        t.expect(sorted(attribute for attribute in kept) == tenants,
                 f"MessageAttributes tenant_id {tenants} on the dead letters",
                 f"tenant_id attributes {kept}", sent=sent,
                 hint="a dead letter is redriven as it is: without its tenant_id attribute, "
                      "the tenant context is gone when it comes back. Receive with "
                      "MessageAttributeNames=['All'] and send the attributes along.")
    with t.case("what cannot be paid: its record says failed, with the reason, and its key"):
        for tenant, order in DEAD:
            record = record_of(r.table.lab, r.table.name, tenant, order) or {}
            t.expect(record.get("status") == "failed" and str(record.get("reason", "")).strip(),
                     f"{tenant}/{order}: status 'failed' and a reason", short(record),
                     sent=sent, hint="the tenant sees the outcome of its payment in the record "
                                     "(exercise 6.4 reads it).")
            expect_stored_key(t, r, tenant, order, record, sent)
    with t.case("a late failure never overwrites a payment"):
        record = record_of(r.table.lab, r.table.name, "tenant-c", "o-3303") or {}
        t.expect(record.get("status") == "paid" and record.get("charge_id") == "ch_03303"
                 and record.get("idempotency_key") == "k-paid-3303",
                 "tenant-c/o-3303 still 'paid', charge_id 'ch_03303', key 'k-paid-3303'",
                 short(record), sent=sent,
                 hint="a duplicate of a paid order can fail (the partner is down now); its "
                      "'failed' must not replace the 'paid' that is true. Write the failure "
                      "with a condition.",
                 code_hint="update_item(..., ConditionExpression='#s <> :paid', ...) and on "
                           "ConditionalCheckFailedException leave the record as it is")


@exercise("6.2", "idempotency: one key per order, a worker that never charges twice",
          ("claim_payment", "process_batch"),
          hint="claim_payment stores one idempotency record per tenant and order with a "
               "conditional write and returns its key; process_batch charges each message's "
               "order with that key, records the outcome, and deletes the message last.",
          code_hint="key = claim_payment(worker.table, body['tenant_id'], body['order_id']); "
                    "charge = charge_with_retries(worker.partner, {**body, 'idempotency_key': "
                    "key}, worker.clock, worker.rng); update the record to paid; "
                    "message.delete()")
def check_idempotency(claim_payment: Any, process_batch: Any, t: Trial) -> None:
    table = audited_table(t.lab, "check-payments")  # the two parts use different orders
    check_claim(claim_payment, table, t)
    check_worker(process_batch, table, t)
