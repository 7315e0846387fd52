"""Lab 6's checks pass on the solution and catch each classic integration mistake.

The solution functions come from solutions/06-integration-patterns.ipynb itself. Each mutant
is one realistic wrong answer (retry without backoff, delete before processing, a key per
message instead of per order, check-then-write without a condition, ...); the table names the
case that must catch it, so a check that loses its teeth fails here. Benign variants are
answers written differently but correctly: a check that fails one of them is too strict.
"""

from __future__ import annotations

import functools
import hashlib
import json
import random
import threading
import uuid

import lab06_solution
import mutants
import pytest
from boto3.dynamodb.conditions import Attr, Key
from botocore.exceptions import ClientError

from checks import run
from checks.notebook_code import exercise_ids, functions_for
from environment.app.partners import PartnerError, PartnerTimeout, PaymentFailed

TIMEOUT, MAX_ATTEMPTS, BASE, CAP = 5.0, 5, 1.0, 20.0


@pytest.fixture(scope="module")
def solution(lab):
    return lab06_solution.solution()


@pytest.mark.parametrize("exercise", exercise_ids(6))
def test_the_solution_passes(solution, exercise):
    outcome = run(exercise, *functions_for(exercise, solution))
    assert outcome.passed, outcome.message
    assert not outcome.skipped


# --- 6.1 the proxy: enqueue, and charge with retries -------------------------------------------


def enqueuer(body=None, attributes=None, times=1, dump=json.dumps, returns_none=False):
    """enqueue_payment with its body and attributes made by the given functions."""
    def enqueue_payment(queue, ctx, order):
        made = (body or (lambda c, o: {"tenant_id": c.tenant_id, "order_id": o["order_id"],
                                       "amount": o["amount"]}))(ctx, order)
        attrs = (attributes or (lambda c, o: {"tenant_id": {"DataType": "String",
                                                            "StringValue": c.tenant_id}}))(ctx,
                                                                                           order)
        for _ in range(times):
            sent = queue.send_message(MessageBody=dump(made), MessageAttributes=attrs)
        return None if returns_none else sent["MessageId"]
    return enqueue_payment


def charger(retryable=(PartnerError, PartnerTimeout), attempts=MAX_ATTEMPTS,
            delay=lambda n, rng: rng.uniform(0, min(CAP, BASE * 2 ** n)), timeout=TIMEOUT,
            key=lambda payment: payment["idempotency_key"], give_up=None, retry_4xx=False,
            retry_if=lambda error: error.retryable, sleep_first=False, sleep_last=False):
    """charge_with_retries with one knob turned."""
    def charge_with_retries(partner, payment, clock, rng):
        if sleep_first:
            clock.sleep(delay(0, rng))
        for attempt in range(attempts):
            try:
                return partner.charge(payment["tenant_id"], payment["order_id"],
                                      payment["amount"], idempotency_key=key(payment),
                                      timeout=timeout)
            except retryable as error:
                if (not retry_4xx and not retry_if(error)) or attempt == attempts - 1:
                    if sleep_last:
                        clock.sleep(delay(attempt, rng))
                    if give_up is not None:
                        return give_up(error)
                    raise PaymentFailed(str(error)) from error
            clock.sleep(delay(attempt, rng))
    return charge_with_retries


def growing_timeouts(partner, payment, clock, rng):
    for attempt in range(MAX_ATTEMPTS):
        try:
            return partner.charge(payment["tenant_id"], payment["order_id"], payment["amount"],
                                  idempotency_key=payment["idempotency_key"],
                                  timeout=TIMEOUT * 2 ** attempt)
        except (PartnerError, PartnerTimeout) as error:
            if not error.retryable or attempt == MAX_ATTEMPTS - 1:
                raise PaymentFailed(str(error)) from error
        clock.sleep(rng.uniform(0, min(CAP, BASE * 2 ** attempt)))


def reraise(error):
    raise error


def proxy_mutants(s):
    enqueue, charge = s["enqueue_payment"], s["charge_with_retries"]

    def ok_body(c, o):
        return {"tenant_id": c.tenant_id, "order_id": o["order_id"], "amount": o["amount"]}

    rows = [
        ("the tenant from the order dict", enqueuer(body=lambda c, o: {
            "tenant_id": o.get("tenant_id", c.tenant_id), "order_id": o["order_id"],
            "amount": o["amount"]}), "the tenant comes from the context (tenant-zq7)"),
        ("the order dict spread over the body (mass assignment)", enqueuer(
            body=lambda c, o: {"tenant_id": c.tenant_id, **o}),
         "the tenant comes from the context (tenant-zq7)"),
        ("hard-codes tenant-a", enqueuer(body=lambda c, o: {**ok_body(c, o),
                                                            "tenant_id": "tenant-a"}),
         "the tenant comes from the context (tenant-zq7)"),
        ("the user as the tenant", enqueuer(body=lambda c, o: {**ok_body(c, o),
                                                               "tenant_id": c.user}),
         "the tenant comes from the context (tenant-a)"),
        ("no message attribute", enqueuer(attributes=lambda c, o: {}),
         "the tenant travels as a message attribute (tenant-a)"),
        ("the attribute as a Number", enqueuer(attributes=lambda c, o: {"tenant_id": {
            "DataType": "Number", "StringValue": c.tenant_id}}),
         "the tenant travels as a message attribute (tenant-a)"),
        ("the attribute from the order dict", enqueuer(attributes=lambda c, o: {"tenant_id": {
            "DataType": "String", "StringValue": o.get("tenant_id", c.tenant_id)}}),
         "the tenant travels as a message attribute (tenant-zq7)"),
        ("a Python repr as the body", enqueuer(dump=str), "the body is JSON"),
        ("the amount as text", enqueuer(body=lambda c, o: {**ok_body(c, o),
                                                           "amount": str(o["amount"])}),
         "the body is JSON with the order id and the amount (tenant-a)"),
        ("sends twice", enqueuer(times=2), "one message per payment request (tenant-a)"),
    ]
    rows = [("6.1", bug, (fn, charge), case) for bug, fn, case in rows]
    charge_rows = [
        ("no timeout", charger(timeout=None), "every call has a timeout"),
        ("a 60-second timeout", charger(timeout=60.0), "every call has a timeout"),
        ("no retries", charger(attempts=1), "a 503 and a 429, then a success"),
        ("retry without backoff", charger(delay=lambda n, rng: 0), "a pause on the clock"),
        ("a fixed one-second pause", charger(delay=lambda n, rng: 1.0), "the pauses double"),
        ("a linear backoff with jitter", charger(delay=lambda n, rng: rng.uniform(0, n + 1)),
         "the pauses double"),
        ("a backoff capped at 2 s", charger(delay=lambda n, rng: rng.uniform(0, min(2, 2 ** n))),
         "the pauses double"),
        ("exponential without jitter", charger(delay=lambda n, rng: BASE * 2 ** n),
         "the pauses are jittered"),
        ("powers of three", charger(delay=lambda n, rng: rng.uniform(0, 3 ** n)),
         "within the doubling schedule"),
        ("jitter from the random module", charger(
            delay=lambda n, rng: random.uniform(0, BASE * 2 ** n)), "the same seed"),
        ("timeouts are not retried", charger(retryable=(PartnerError,)), "a hung call"),
        ("no idempotency key", charger(key=lambda payment: None),
         "every attempt carries the payment's idempotency key"),
        ("a new key per attempt", charger(key=lambda payment: uuid.uuid4().hex),
         "every attempt carries the payment's idempotency key"),
        ("retries ten times", charger(attempts=10), "a partner that keeps failing"),
        ("returns None when it gives up", charger(give_up=lambda error: None),
         "a partner that keeps failing"),
        ("lets the PartnerError out", charger(give_up=reraise), "a partner that keeps failing"),
        ("retries a declined card", charger(retry_4xx=True), "a declined card"),
        # The adversary's (written to pass the check as it was; each got a case of its own):
        ("a timeout that doubles with each retry", growing_timeouts,
         "every retry has a timeout too"),
        ("a backoff capped at 6.5 s", charger(
            delay=lambda n, rng: rng.uniform(0, min(6.5, BASE * 2 ** n))), "the cap holds"),
        ("no cap", charger(delay=lambda n, rng: rng.uniform(0, BASE * 2 ** n)),
         "the cap holds"),
        ("a 429 not retried (5xx only)", charger(
            retry_if=lambda e: isinstance(e, PartnerTimeout) or e.status >= 500),
         "a 503 and a 429, then a success"),
        ("every error but a decline retried", charger(
            retry_if=lambda e: getattr(e, "status", 0) != 402), "a key another charge holds"),
        ("a pause after the last attempt", charger(sleep_last=True),
         "a partner that keeps failing"),
        ("a pause before the first call", charger(sleep_first=True), "a healthy partner"),
        ("a 0.3-second timeout", charger(timeout=0.3), "every call has a timeout"),
        ("jitter that can go negative", charger(
            delay=lambda n, rng: rng.uniform(-0.2, min(CAP, BASE * 2 ** n))),
         "within the doubling schedule"),
        ("enqueue returns nothing", "enqueue", "the message id returned (tenant-a)"),
        ("the tenant from the user's mail domain", "enqueue-domain",
         "the tenant comes from the context (tenant-a)"),
    ]
    enqueues = {"enqueue": enqueuer(returns_none=True), "enqueue-domain": enqueuer(
        body=lambda c, o: {**ok_body(c, o), "tenant_id": c.user.split("@")[1].split(".")[0]})}
    return rows + [("6.1", bug, (enqueues[fn], charge) if isinstance(fn, str) else (enqueue, fn),
                    case) for bug, fn, case in charge_rows]
def proxy_benign(s):
    enqueue, charge = s["enqueue_payment"], s["charge_with_retries"]
    return [
        ("6.1", "equal jitter", (enqueue, charger(delay=lambda n, rng: (
            lambda d: d / 2 + rng.uniform(0, d / 2))(min(CAP, BASE * 2 ** n))))),
        ("6.1", "rng.random() scaled", (enqueue, charger(
            delay=lambda n, rng: rng.random() * min(CAP, BASE * 2 ** n)))),
        ("6.1", "a 2-second timeout", (enqueue, charger(timeout=2.0))),
        ("6.1", "sorted JSON and a tier attribute", (enqueuer(
            dump=lambda b: json.dumps(b, sort_keys=True),
            attributes=lambda c, o: {"tenant_id": {"DataType": "String",
                                                   "StringValue": c.tenant_id},
                                     "tier": {"DataType": "String", "StringValue": c.tier}}),
            charge)),
    ]


# --- 6.2 idempotency: claim and worker ---------------------------------------------------------


def record_key(tenant_id, order_id):
    return {"pk": f"TENANT#{tenant_id}", "sk": f"PAYMENT#{order_id}"}


def claimer(key_of=record_key, new_key=lambda t, o: uuid.uuid4().hex, condition=True,
            read_first=False, on_conflict="read", status="pending", returns="key"):
    """claim_payment with one knob turned."""
    def claim_payment(table, tenant_id, order_id):
        key = key_of(tenant_id, order_id)
        if read_first:
            found = table.get_item(Key=key, ConsistentRead=True).get("Item")
            if found:
                return found["idempotency_key"]
        made = new_key(tenant_id, order_id)
        item = {**key, "tenant_id": tenant_id, "order_id": order_id, "idempotency_key": made,
                "status": status}
        try:
            if condition:
                table.put_item(Item=item, ConditionExpression=condition if isinstance(
                    condition, str) else "attribute_not_exists(pk)")
            else:
                table.put_item(Item=item)
            return item if returns == "item" else made
        except ClientError as error:
            if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise
        if on_conflict == "mine":
            return made
        return table.get_item(Key=key, ConsistentRead=True)["Item"]["idempotency_key"]
    return claim_payment


def scan_claim(table, tenant_id, order_id):
    """A conditional put, but the existing key is found by a Scan (every tenant's records)."""
    found = table.scan(FilterExpression=Attr("tenant_id").eq(tenant_id)
                       & Attr("order_id").eq(order_id))["Items"]
    if found:
        return found[0]["idempotency_key"]
    return claimer()(table, tenant_id, order_id)


def update_claim(table, tenant_id, order_id):
    """Benign: one UpdateItem with if_not_exists, which is atomic too."""
    item = table.update_item(
        Key=record_key(tenant_id, order_id),
        UpdateExpression="SET idempotency_key = if_not_exists(idempotency_key, :k), "
                         "#s = if_not_exists(#s, :p), tenant_id = :t, order_id = :o",
        ExpressionAttributeNames={"#s": "status"},
        ExpressionAttributeValues={":k": uuid.uuid4().hex, ":p": "pending", ":t": tenant_id,
                                   ":o": order_id}, ReturnValues="ALL_NEW")["Attributes"]
    return item["idempotency_key"]


def worker_fn(s, delete_first=False, key=None, reason=True, delete_dead=True, catch=True,
              record_failed=True, record_paid=True, tenant=None, skip_paid=False, one=False,
              attributes=True, delete_finally=False, guard=True, paid_first=False,
              delete_before_record=False, charge_id=lambda made, idem: made["charge_id"],
              ledger=False, release_on_fail=False, visibility=None, wait=None):
    """process_batch with one knob turned; it calls the solution's claim and charge."""
    claim, charge = s["claim_payment"], s["charge_with_retries"]

    def process_batch(worker):
        extra = {} if visibility is None else {"VisibilityTimeout": visibility}
        extra.update({} if wait is None else {"WaitTimeSeconds": wait})
        messages = worker.queue.receive_messages(MaxNumberOfMessages=1 if one else 10,
                                                 MessageAttributeNames=["All"] if attributes
                                                 else [], **extra)
        for message in messages:
            if delete_finally:
                try:
                    handle(worker, message)
                finally:
                    message.delete()
            else:
                handle(worker, message)
        return len(messages)

    def set_status(worker, record, update, values):
        names = {"ExpressionAttributeNames": {"#s": "status"}} if "#s" in update else {}
        worker.table.update_item(Key=record, UpdateExpression=update,
                                 ExpressionAttributeValues=values, **names)

    def handle(worker, message):
        if delete_first:
            message.delete()
        payment = json.loads(message.body)
        if tenant:
            payment["tenant_id"] = tenant
        record = record_key(payment["tenant_id"], payment["order_id"])
        idem = claim(worker.table, payment["tenant_id"], payment["order_id"])
        if key is not None:
            idem = key(message, idem)
        if skip_paid and worker.table.get_item(Key=record, ConsistentRead=True)[
                "Item"].get("status") == "paid":
            message.delete()
            return
        if ledger:  # the partner's ledger instead of a key
            done = [c for c in worker.partner.charges()
                    if (c["tenant_id"], c["order_id"]) == (payment["tenant_id"],
                                                           payment["order_id"])]
            if done:
                set_status(worker, record, "SET #s = :s, charge_id = :c",
                           {":s": "paid", ":c": done[0]["charge_id"]})
                message.delete()
                return
            idem = None
        if paid_first:
            set_status(worker, record, "SET #s = :s", {":s": "paid"})
        try:
            made = charge(worker.partner, {**payment, "idempotency_key": idem},
                          worker.clock, worker.rng)
        except PaymentFailed as failed:
            if not catch:
                raise
            attributes = dict(message.message_attributes or {})
            if reason:
                attributes["reason"] = {"DataType": "String", "StringValue": (
                    failed.reason if reason is True else reason)}
            if record_failed:
                try:
                    worker.table.update_item(
                        Key=record, UpdateExpression="SET #s = :s, reason = :r",
                        ExpressionAttributeNames={"#s": "status"},
                        ExpressionAttributeValues={":s": "failed", ":r": failed.reason,
                                                   **({":p": "paid"} if guard else {})},
                        **({"ConditionExpression": "#s <> :p"} if guard else {}))
                except ClientError as error:
                    if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
                        raise
                if release_on_fail:  # a fresh key for the next attempt
                    set_status(worker, record, "SET idempotency_key = :k",
                               {":k": uuid.uuid4().hex})
            worker.dead_letters.send_message(MessageBody=message.body,
                                             MessageAttributes=attributes)
            if delete_dead and not delete_first and not delete_finally:
                message.delete()
            return
        if delete_before_record:
            message.delete()
        if record_paid:
            set_status(worker, record, "SET #s = :s, charge_id = :c",
                       {":s": "paid", ":c": charge_id(made, idem)})
        if not delete_first and not delete_finally and not delete_before_record:
            message.delete()
    return process_batch


def body_hash_worker(s):
    """The adversary's: a key hashed from the message body, never claimed."""
    inner = worker_fn(s, key=lambda m, k: hashlib.sha256(m.body.encode()).hexdigest())
    return inner


def swallowing_claim(table, tenant_id, order_id):
    """The adversary's: every ClientError taken for 'already claimed'."""
    key = record_key(tenant_id, order_id)
    made = uuid.uuid4().hex
    try:
        table.put_item(Item={**key, "tenant_id": tenant_id, "order_id": order_id,
                             "idempotency_key": made, "status": "pending"},
                       ConditionExpression="attribute_not_exists(pk)")
        return made
    except ClientError:
        found = table.get_item(Key=key, ConsistentRead=True).get("Item")
        return found["idempotency_key"] if found else made


def reopening_claim(table, tenant_id, order_id):
    """The adversary's: a failed record may be claimed again (with a new key)."""
    key = record_key(tenant_id, order_id)
    made = uuid.uuid4().hex
    try:
        table.put_item(Item={**key, "tenant_id": tenant_id, "order_id": order_id,
                             "idempotency_key": made, "status": "pending"},
                       ConditionExpression="attribute_not_exists(pk) OR #s = :f",
                       ExpressionAttributeNames={"#s": "status"},
                       ExpressionAttributeValues={":f": "failed"})
        return made
    except ClientError as error:
        if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
            raise
    return table.get_item(Key=key, ConsistentRead=True)["Item"]["idempotency_key"]


def response_on_conflict(table, tenant_id, order_id):
    """The adversary's: read first, and the claim that loses the race returns the response."""
    key = record_key(tenant_id, order_id)
    found = table.get_item(Key=key, ConsistentRead=True).get("Item")
    if found:
        return found["idempotency_key"]
    made = uuid.uuid4().hex
    try:
        table.put_item(Item={**key, "tenant_id": tenant_id, "order_id": order_id,
                             "idempotency_key": made, "status": "pending"},
                       ConditionExpression="attribute_not_exists(pk)")
        return made
    except ClientError as error:
        if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
            raise
        return table.get_item(Key=key, ConsistentRead=True)


def idempotency_mutants(s):
    claim, batch = s["claim_payment"], s["process_batch"]
    claims = [
        ("check-then-write without a condition", claimer(read_first=True, condition=False),
         "two workers claim one order at once"),
        ("the order id as the key", claimer(new_key=lambda t, o: o),
         "another tenant's order with the same id"),
        ("a record keyed by the order alone", claimer(
            key_of=lambda t, o: {"pk": f"PAYMENT#{o}", "sk": f"PAYMENT#{o}"}),
         "a new order: a key, and a pending record"),
        ("a deterministic key written without a condition", claimer(
            new_key=lambda t, o: f"{t}#{o}", condition=False), "a paid order stays paid"),
        ("a new key written without a condition", claimer(condition=False),
         "the same order again: the same key"),
        ("returns its own key when the condition fails", claimer(on_conflict="mine"),
         "the same order again: the same key"),
        ("starts the record as paid", claimer(status="paid"),
         "a new order: a key, and a pending record"),
        ("returns the record, not the key", claimer(returns="item"),
         "a new order: a key, and a pending record"),
        # The adversary's:
        ("looks for an existing claim with a Scan", scan_claim, "no Scan"),
        ("takes every ClientError for 'already claimed'", swallowing_claim,
         "a write refused for another reason"),
        ("a failed record may be claimed again", reopening_claim,
         "a failed order keeps its key"),
        ("the lost race returns the get_item response", response_on_conflict,
         "two workers claim one order at once"),
    ]
    rows = [("6.2", bug, (fn, batch), case) for bug, fn, case in claims]
    workers = [
        ("delete before processing", worker_fn(s, delete_first=True),
         "each recorded before its message is deleted"),
        ("no idempotency key to the partner", worker_fn(s, key=lambda m, k: None),
         "three payments of two tenants"),
        ("a key per attempt", worker_fn(s, key=lambda m, k: uuid.uuid4().hex),
         "three payments of two tenants"),
        ("the message id as the key", worker_fn(s, key=lambda m, k: m.message_id),
         "three payments of two tenants"),
        ("dead letters without a reason", worker_fn(s, reason=False),
         "in the dead-letter queue once, with its reason"),
        ("lets PaymentFailed out (SQS's redrive moves it, reasonless)", worker_fn(s, catch=False),
         "in the dead-letter queue once, with its reason"),
        ("dead-letters but keeps the message", worker_fn(s, delete_dead=False),
         "in the dead-letter queue once, with its reason"),
        ("never records a failure", worker_fn(s, record_failed=False),
         "its record says failed"),
        ("never records a payment", worker_fn(s, record_paid=False),
         "three payments of two tenants"),
        ("hard-codes the tenant", worker_fn(s, tenant="tenant-a"),
         "three payments of two tenants"),
        ("deletes in a finally (which a kill runs too)", worker_fn(s, delete_finally=True),
         "killed after the partner call"),
        # The adversary's:
        ("dead letters without their tenant (no attributes received)",
         worker_fn(s, attributes=False), "the dead letters keep their tenant attribute"),
        ("a late failure overwrites 'paid' (no condition)", worker_fn(s, guard=False),
         "a late failure never overwrites a payment"),
        ("marks 'paid' before the charge", worker_fn(s, paid_first=True),
         "killed after the partner call"),
        ("deletes the message before recording", worker_fn(s, delete_before_record=True),
         "each recorded before its message is deleted"),
        ("the idempotency key as the charge id", worker_fn(s, charge_id=lambda m, k: k),
         "three payments of two tenants"),
        ("a constant reason", worker_fn(s, reason="payment failed"),
         "in the dead-letter queue once, with its reason"),
        ("the partner's ledger instead of a key", worker_fn(s, ledger=True),
         "three payments of two tenants"),
        ("a fresh key in the record after a failure", worker_fn(s, release_on_fail=True),
         "its record says failed, with the reason, and its key"),
        ("a key hashed from the body, never claimed", body_hash_worker(s),
         "three payments of two tenants"),
    ]
    return rows + [("6.2", bug, (claim, fn), case) for bug, fn, case in workers]


def idempotency_benign(s):
    claim, batch = s["claim_payment"], s["process_batch"]
    return [
        ("6.2", "UpdateItem with if_not_exists", (update_claim, batch)),
        ("6.2", "a condition on the sort key", (claimer(condition="attribute_not_exists(sk)"),
                                                batch)),
        ("6.2", "one message per receive", (claim, worker_fn(s, one=True))),
        ("6.2", "skips orders already paid", (claim, worker_fn(s, skip_paid=True))),
        ("6.2", "receives with a visibility timeout of its own",
         (claim, worker_fn(s, visibility=60))),
        ("6.2", "long polls", (claim, worker_fn(s, wait=20))),
    ]


# --- 6.3 redrive -------------------------------------------------------------------------------


def redriver(pages=None, size=10, attributes=True, delete=True, send=True, times=1,
             body=lambda b: b, count="messages"):
    """redrive with one knob turned."""
    def redrive(sqs, dlq_url, queue_url):
        moved = batches = 0
        n = 0
        while pages is None or n < pages:
            n += 1
            page = sqs.receive_message(QueueUrl=dlq_url, MaxNumberOfMessages=size,
                                       MessageAttributeNames=["All"]).get("Messages", [])
            if not page:
                break
            batches += 1
            for message in page:
                extra = ({"MessageAttributes": message.get("MessageAttributes", {})}
                         if attributes else {})
                for _ in range(times if send else 0):
                    sqs.send_message(QueueUrl=queue_url, MessageBody=body(message["Body"]),
                                     **extra)
                if delete:
                    sqs.delete_message(QueueUrl=dlq_url, ReceiptHandle=message["ReceiptHandle"])
                moved += 1
        return {"messages": moved, "batches": batches, "none": None}[count]
    return redrive


def pages(sqs, dlq_url):
    while page := sqs.receive_message(QueueUrl=dlq_url, MaxNumberOfMessages=10,
                                      MessageAttributeNames=["All"]).get("Messages"):
        yield page


def send(sqs, queue_url, message):
    sqs.send_message(QueueUrl=queue_url, MessageBody=message["Body"],
                     MessageAttributes=message.get("MessageAttributes", {}))


def purge_at_end(sqs, dlq_url, queue_url):
    moved = 0
    for page in pages(sqs, dlq_url):
        for message in page:
            send(sqs, queue_url, message)
            moved += 1
    sqs.purge_queue(QueueUrl=dlq_url)
    return moved


def delete_first(sqs, dlq_url, queue_url):
    moved = 0
    for page in pages(sqs, dlq_url):
        sqs.delete_message_batch(QueueUrl=dlq_url, Entries=[
            {"Id": str(n), "ReceiptHandle": m["ReceiptHandle"]} for n, m in enumerate(page)])
        for message in page:
            send(sqs, queue_url, message)
            moved += 1
    return moved


def batch_redrive(sqs, dlq_url, queue_url, honour_failed=True):
    """Benign: batches both ways, deleting only what the batch send took."""
    moved = 0
    while page := sqs.receive_message(QueueUrl=dlq_url, MaxNumberOfMessages=10,
                                      MessageAttributeNames=["All"]).get("Messages"):
        entries = [{"Id": str(n), "MessageBody": m["Body"],
                    "MessageAttributes": m.get("MessageAttributes", {})}
                   for n, m in enumerate(page)]
        sent = sqs.send_message_batch(QueueUrl=queue_url, Entries=entries)
        taken = ({entry["Id"] for entry in sent.get("Successful", [])} if honour_failed
                 else {entry["Id"] for entry in entries})
        sqs.delete_message_batch(QueueUrl=dlq_url, Entries=[
            {"Id": str(n), "ReceiptHandle": m["ReceiptHandle"]} for n, m in enumerate(page)
            if str(n) in taken])
        moved += len(taken)
    return moved


def batch_delete_first(sqs, dlq_url, queue_url):
    """The adversary's: the page deleted as a batch, then sent as a batch."""
    moved = 0
    for page in pages(sqs, dlq_url):
        sqs.delete_message_batch(QueueUrl=dlq_url, Entries=[
            {"Id": str(n), "ReceiptHandle": m["ReceiptHandle"]} for n, m in enumerate(page)])
        sqs.send_message_batch(QueueUrl=queue_url, Entries=[
            {"Id": str(n), "MessageBody": m["Body"],
             "MessageAttributes": m.get("MessageAttributes", {})} for n, m in enumerate(page)])
        moved += len(page)
    return moved


def batch_swallowed(sqs, dlq_url, queue_url):
    """The adversary's: a batch send whose errors are swallowed, the delete in a finally."""
    moved = 0
    for page in pages(sqs, dlq_url):
        try:
            sqs.send_message_batch(QueueUrl=queue_url, Entries=[
                {"Id": str(n), "MessageBody": m["Body"],
                 "MessageAttributes": m.get("MessageAttributes", {})}
                for n, m in enumerate(page)])
        except Exception:  # noqa: BLE001 - the mistake under test
            pass
        finally:
            sqs.delete_message_batch(QueueUrl=dlq_url, Entries=[
                {"Id": str(n), "ReceiptHandle": m["ReceiptHandle"]}
                for n, m in enumerate(page)])
        moved += len(page)
    return moved


def attributes_redrive(keep):
    """The adversary's: the attributes rebuilt (the tenant only, or from the body)."""
    def redrive(sqs, dlq_url, queue_url):
        moved = 0
        for page in pages(sqs, dlq_url):
            for m in page:
                sqs.send_message(QueueUrl=queue_url, MessageBody=m["Body"],
                                 MessageAttributes=keep(m))
                sqs.delete_message(QueueUrl=dlq_url, ReceiptHandle=m["ReceiptHandle"])
                moved += 1
        return moved
    return redrive


def patient_redrive(wait=0, delay=0):
    """Benign: long polls, or sends spread out with a delay."""
    def redrive(sqs, dlq_url, queue_url):
        moved = 0
        while page := sqs.receive_message(QueueUrl=dlq_url, MaxNumberOfMessages=10,
                                          WaitTimeSeconds=wait,
                                          MessageAttributeNames=["All"]).get("Messages"):
            for m in page:
                sqs.send_message(QueueUrl=queue_url, MessageBody=m["Body"], DelaySeconds=delay,
                                 MessageAttributes=m.get("MessageAttributes", {}))
                sqs.delete_message(QueueUrl=dlq_url, ReceiptHandle=m["ReceiptHandle"])
                moved += 1
        return moved
    return redrive


def redrive_mutants(s):
    batch = s["process_batch"]
    rows = [
        ("the first page only", redriver(pages=1), "each back on the queue once"),
        ("two pages only", redriver(pages=2), "each back on the queue once"),
        ("one message per receive, once", redriver(pages=1, size=1),
         "each back on the queue once"),
        ("drops the attributes (the tenant)", redriver(attributes=False),
         "each back on the queue once"),
        ("sends each message twice", redriver(times=2), "each back on the queue once"),
        ("deletes without sending", redriver(send=False), "each back on the queue once"),
        ("marks the body as redriven", redriver(
            body=lambda b: json.dumps({**json.loads(b), "redriven": True})),
         "each back on the queue once"),
        ("never deletes from the DLQ", redriver(delete=False),
         "the dead-letter queue empty afterwards"),
        ("returns nothing", redriver(count="none"), "an empty dead-letter queue: nothing moved"),
        ("counts batches", redriver(count="batches"), "the count of messages moved"),
        # The adversary's: the purge is refused within 60 s of the last one, on AWS too.
        ("purges the DLQ at the end instead of deleting", purge_at_end,
         "23 dead letters: each back on the queue once"),
        ("deletes a page before sending it", delete_first, "a send that fails midway"),
        ("deletes a page as a batch, then sends it as a batch", batch_delete_first,
         "a send that fails midway"),
        ("swallows a failed batch send, deletes in a finally", batch_swallowed,
         "a send that fails midway"),
        ("ignores the Failed entries of a batch send", functools.partial(
            batch_redrive, honour_failed=False), "a batch send that half fails"),
        ("keeps the tenant attribute only", attributes_redrive(
            lambda m: {"tenant_id": m["MessageAttributes"]["tenant_id"]}),
         "each back on the queue once"),
        ("rebuilds the tenant attribute from the body", attributes_redrive(
            lambda m: {"tenant_id": {"DataType": "String",
                                     "StringValue": json.loads(m["Body"])["tenant_id"]}}),
         "each back on the queue once"),
    ]
    return [("6.3", bug, (fn, batch), case) for bug, fn, case in rows]


def redrive_benign(s):
    return [("6.3", "batches both ways", (batch_redrive, s["process_batch"])),
            ("6.3", "one message per receive", (redriver(size=1), s["process_batch"])),
            ("6.3", "long polls", (patient_redrive(wait=20), s["process_batch"])),
            ("6.3", "sends with a delay", (patient_redrive(delay=60), s["process_batch"]))]


# --- 6.4 status --------------------------------------------------------------------------------


def status_mutants(s):
    def scan_by_order(table, ctx, order_id):
        items = table.scan(FilterExpression=Attr("order_id").eq(order_id))["Items"]
        return items[0]["status"] if items else None

    def scan_exact(table, ctx, order_id):
        items = table.scan(FilterExpression=Attr("order_id").eq(order_id)
                           & Attr("tenant_id").eq(ctx.tenant_id))["Items"]
        return items[0]["status"] if items else None

    def the_item(table, ctx, order_id):
        return table.get_item(Key=record_key(ctx.tenant_id, order_id)).get("Item")

    def low_level(table, ctx, order_id):
        item = table.meta.client.get_item(TableName=table.name, Key={
            "pk": {"S": f"TENANT#{ctx.tenant_id}"}, "sk": {"S": f"PAYMENT#{order_id}"}}).get("Item")
        return item["status"] if item else None

    def pending_by_default(table, ctx, order_id):
        item = table.get_item(Key=record_key(ctx.tenant_id, order_id)).get("Item")
        return item["status"] if item else "pending"

    def key_error(table, ctx, order_id):
        return table.get_item(Key=record_key(ctx.tenant_id, order_id))["Item"]["status"]

    def tenant_a(table, ctx, order_id):
        item = table.get_item(Key=record_key("tenant-a", order_id)).get("Item")
        return item["status"] if item else None

    def order_sk(table, ctx, order_id):
        item = table.get_item(Key={"pk": f"TENANT#{ctx.tenant_id}",
                                   "sk": f"ORDER#{order_id}"}).get("Item")
        return item["status"] if item else None

    def first_of_partition(table, ctx, order_id):
        items = table.query(KeyConditionExpression=Key("pk").eq(f"TENANT#{ctx.tenant_id}")
                            & Key("sk").begins_with("PAYMENT#"))["Items"]
        return items[0]["status"] if items else None

    seen = {}

    def cached(table, ctx, order_id):
        if (ctx.tenant_id, order_id) not in seen:
            item = table.get_item(Key=record_key(ctx.tenant_id, order_id)).get("Item")
            seen[(ctx.tenant_id, order_id)] = item["status"] if item else None
        return seen[(ctx.tenant_id, order_id)]

    def scan_fallback(table, ctx, order_id):
        item = table.get_item(Key=record_key(ctx.tenant_id, order_id)).get("Item")
        if item is None:  # "legacy records": found by attributes
            items = table.scan(FilterExpression=Attr("tenant_id").eq(ctx.tenant_id)
                               & Attr("order_id").eq(order_id))["Items"]
            item = items[0] if items else None
        return item["status"] if item else None

    def user_as_tenant(table, ctx, order_id):
        item = table.get_item(Key=record_key(ctx.user, order_id)).get("Item")
        return item["status"] if item else None

    def prefix_query(table, ctx, order_id):
        items = table.query(KeyConditionExpression=Key("pk").eq(f"TENANT#{ctx.tenant_id}")
                            & Key("sk").begins_with(f"PAYMENT#{order_id}"))["Items"]
        return items[0]["status"] if items else None

    def filter_query(table, ctx, order_id):
        items = table.query(KeyConditionExpression=Key("pk").eq(f"TENANT#{ctx.tenant_id}"),
                            FilterExpression=Attr("order_id").eq(order_id))["Items"]
        return items[0]["status"] if items else None

    final = {}

    def cache_final(table, ctx, order_id):
        if (ctx.tenant_id, order_id) not in final:
            item = table.get_item(Key=record_key(ctx.tenant_id, order_id)).get("Item")
            status = item["status"] if item else None
            if status not in ("paid", "failed"):
                return status
            final[(ctx.tenant_id, order_id)] = status
        return final[(ctx.tenant_id, order_id)]

    def name_sniffing(table, ctx, order_id):
        if "check" in table.name:
            return s["payment_status"](table, ctx, order_id)
        items = table.scan(FilterExpression=Attr("order_id").eq(order_id))["Items"]
        return items[0]["status"] if items else None

    def mail_domain(table, ctx, order_id):
        tenant = ctx.user.split("@", 1)[1].split(".")[0]
        item = table.get_item(Key=record_key(tenant, order_id)).get("Item")
        return item["status"] if item else None

    rows = [
        # A Scan reads one page (1 MB) at a time: the first holds tenant-a's large records.
        ("a Scan by order id", scan_by_order, "tenant-a asks for o-5001"),
        ("a Scan by order and tenant", scan_exact, "tenant-a asks for o-5001"),
        ("returns the item", the_item, "tenant-a asks for o-5001: its own status"),
        ("DynamoDB JSON", low_level, "tenant-a asks for o-5001: its own status"),
        ("'pending' when there is no record", pending_by_default, "which it does not have"),
        ("a KeyError when there is no record", key_error, "which it does not have"),
        ("hard-codes tenant-a", tenant_a, "tenant-b asks for o-5001: its own status"),
        ("the order's sort key", order_sk, "tenant-a asks for o-5001: its own status"),
        ("the first payment of the partition", first_of_partition,
         "tenant-a asks for o-5001: its own status"),
        ("the user as the tenant", user_as_tenant, "tenant-a asks for o-5001: its own status"),
        # The adversary's:
        ("a cache of statuses per tenant and order", cached, "read afresh"),
        ("a Scan of the tenant's rows when the item is missing", scan_fallback,
         "tenant-a asks for o-5009: one item read"),
        ("a Query by sort-key prefix", prefix_query, "tenant-a asks for o-500, which it"),
        ("a Query of the partition with a filter, one page", filter_query,
         "tenant-a asks for o-5001: its own status"),
        ("a cache of final statuses", cache_final, "read afresh"),
        ("right only when the table's name says 'check'", name_sniffing,
         "tenant-a asks for o-5001"),
        ("the tenant from the user's e-mail domain", mail_domain,
         "tenant-a asks for o-5001: its own status"),
    ]
    return [("6.4", bug, (fn,), case) for bug, fn, case in rows]


def status_benign(s):
    def by_query(table, ctx, order_id):
        items = table.query(KeyConditionExpression=Key("pk").eq(f"TENANT#{ctx.tenant_id}")
                            & Key("sk").eq(f"PAYMENT#{order_id}"))["Items"]
        return items[0]["status"] if items else None

    def consistent(table, ctx, order_id):
        item = table.get_item(Key=record_key(ctx.tenant_id, order_id), ConsistentRead=True,
                              ProjectionExpression="#s",
                              ExpressionAttributeNames={"#s": "status"}).get("Item") or {}
        return item.get("status")

    return [("6.4", "a Query of the one key", (by_query,)),
            ("6.4", "a consistent read of the status only", (consistent,))]


# --- the tables, run -----------------------------------------------------------------------------


def all_mutants(s):
    return proxy_mutants(s) + idempotency_mutants(s) + redrive_mutants(s) + status_mutants(s)


def all_benign(s):
    return proxy_benign(s) + idempotency_benign(s) + redrive_benign(s) + status_benign(s)


@pytest.mark.parametrize("exercise", ["6.1", "6.2", "6.3", "6.4"])
def test_every_check_catches_its_classic_mistakes(solution, exercise):
    # A learner's mistake is a teaching report, never "a bug in the kit" or a traceback.
    mutants.assert_caught([row for row in all_mutants(solution) if row[0] == exercise])


@pytest.mark.parametrize("exercise", ["6.1", "6.2", "6.3", "6.4"])
def test_correct_answers_written_differently_pass(solution, exercise):
    rows = [(ex, *functions) for ex, _, functions in all_benign(solution) if ex == exercise]
    assert not mutants.refused(rows)


def nothing(*args):
    return None


def boom(*args):
    raise ValueError("boom")


@pytest.mark.parametrize("exercise", ["6.1", "6.2", "6.3", "6.4"])
@pytest.mark.parametrize("wrong", [nothing, boom])
def test_learner_code_that_raises_or_returns_nothing_gets_a_report(solution, exercise, wrong):
    needs = len(functions_for(exercise, solution))
    for position in range(needs):
        functions = functions_for(exercise, solution)
        functions[position] = wrong
        outcome = run(exercise, *functions, timeout=5)
        assert not outcome.passed and outcome.failed_case, outcome.message
        assert "could not run" not in outcome.message and "Traceback" not in outcome.message


def endless_redrive(sqs, dlq_url, queue_url):
    """Receives with VisibilityTimeout=0 and never deletes: the dead-letter queue never ends."""
    while page := sqs.receive_message(QueueUrl=dlq_url, MaxNumberOfMessages=10,
                                      VisibilityTimeout=0).get("Messages"):
        for message in page:
            sqs.send_message(QueueUrl=queue_url, MessageBody=message["Body"])
    return 0


def test_a_redrive_that_never_ends_is_stopped_after_its_report(solution):
    before = set(threading.enumerate())
    outcome = run("6.3", endless_redrive, solution["process_batch"], timeout=1)
    assert not outcome.passed and "deleted its queues" in outcome.message, outcome.message
    for thread in set(threading.enumerate()) - before:
        if thread.name == "learner-code":
            thread.join(10)  # bounded: the loop fails on its next call to a deleted queue
            assert not thread.is_alive()
