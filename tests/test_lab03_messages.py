"""The order-events path keeps its books: every message sent ends processed or dead-lettered.

The invariant lab 3's check relies on (sent = processed + dead-lettered, each message counted
once), proved on the kit's consumer loop by itself: a seeded mix of messages a handler accepts,
refuses for good, or refuses once and then accepts (a transient failure), with no clock and a
bounded number of receives. The route itself (bus, rule, queue) is shown to deliver.
"""

from __future__ import annotations

import json
import random

import pytest

from environment.account.queues import queue_url
from environment.app import order_events as oe


@pytest.fixture
def queues(lab):
    oe.purge(lab.settings)
    yield lab
    oe.purge(lab.settings)


def send(lab, bodies):
    sqs = lab.client("sqs")
    url = queue_url(lab.settings, oe.QUEUE)
    return {sqs.send_message(QueueUrl=url, MessageBody=body)["MessageId"]: body for body in bodies}


@pytest.mark.parametrize("seed", [3, 11])
def test_sent_equals_processed_plus_dead_lettered(queues, seed):
    lab = queues
    rng = random.Random(seed)
    kinds = [rng.choice(["ok", "ok", "poison", "flaky"]) for _ in range(rng.randint(9, 14))]
    bodies = [json.dumps({"n": n, "kind": kind}) for n, kind in enumerate(kinds)]
    sent = send(lab, bodies)
    failed_once: set[str] = set()

    def handle(body):
        message = json.loads(body)
        if message["kind"] == "poison":
            raise ValueError(f"poison {message['n']}")
        if message["kind"] == "flaky" and body not in failed_once:
            failed_once.add(body)
            raise ConnectionError("try again")
        return message["n"]

    ledger = oe.consume(lab.settings, handle)
    dead = {letter.message_id: letter for letter in oe.dead_letters(lab.settings, ledger)}
    processed = set(ledger.processed)
    assert len(ledger.processed) == len(processed)  # each deleted once
    assert not processed & set(dead)
    assert processed | set(dead) == set(sent)
    assert len(sent) == len(processed) + len(dead)
    for message_id, body in sent.items():
        kind = json.loads(body)["kind"]
        assert (message_id in dead) == (kind == "poison"), (kind, message_id)
        if kind == "poison":
            assert dead[message_id].reason == f"ValueError: poison {json.loads(body)['n']}"
    assert ledger.receives <= 4 * (oe.max_receives() + 2)


def test_a_handler_that_refuses_everything_dead_letters_everything(queues):
    lab = queues
    sent = send(lab, [f"message {n}" for n in range(12)])

    def refuse(body):
        raise PermissionError("no")

    ledger = oe.consume(lab.settings, refuse)
    dead = oe.dead_letters(lab.settings, ledger)
    assert not ledger.processed
    assert sorted(d.message_id for d in dead) == sorted(sent)
    assert {d.reason for d in dead} == {"PermissionError: no"}


def test_the_rule_routes_order_placed_and_nothing_else(queues):
    lab = queues
    events = lab.client("events")
    bus = lab.settings.name(oe.BUS)
    entries = [{"EventBusName": bus, "Source": oe.SOURCE, "DetailType": oe.DETAIL_TYPE,
                "Detail": json.dumps({"n": 1})},
               {"EventBusName": bus, "Source": oe.SOURCE, "DetailType": "OrderCancelled",
                "Detail": json.dumps({"n": 2})},
               {"EventBusName": bus, "Source": "someone.else", "DetailType": oe.DETAIL_TYPE,
                "Detail": json.dumps({"n": 3})}]
    assert events.put_events(Entries=entries)["FailedEntryCount"] == 0
    ledger = oe.consume(lab.settings, lambda body: json.loads(body)["detail"]["n"])
    assert sorted(ledger.results.values()) == [1]


def test_the_reference_vending_machine_caches_per_tenant_and_renews_near_expiry(lab):
    from datetime import timedelta

    from environment.app.vending import TenantVending

    vending = TenantVending(lab.settings)
    mark = lab.audit_mark()
    first = vending.credentials("tenant-a")
    assert vending.credentials("tenant-a") is first
    other = vending.credentials("tenant-b")
    assert other["AccessKeyId"] != first["AccessKeyId"]
    kept = vending.credentials("tenant-a", now=first["Expiration"] - timedelta(minutes=15))
    renewed = vending.credentials("tenant-a", now=first["Expiration"] - timedelta(minutes=2))
    assert kept is first and renewed["AccessKeyId"] != first["AccessKeyId"]
    issued = [e for e in lab.audit(since=mark, action="sts:AssumeRole") if e["decision"] == "allow"]
    assert [e["session_tags"] for e in issued] == [
        {"TenantID": "tenant-a"}, {"TenantID": "tenant-b"}, {"TenantID": "tenant-a"}]
    with pytest.raises(ValueError):
        vending.credentials("")


def test_buses_rules_and_signing_keys_are_provisioned_and_torn_down_by_prefix(lab, settings):
    from dataclasses import replace

    from environment.account import events, queues, signing_keys

    other = replace(settings, prefix="lab3-teardown-")
    for kind in (queues, events, signing_keys):
        kind.ensure(other)
        kind.ensure(other)  # idempotent
    bus = other.name(oe.BUS)
    rules = other.client("events").list_rules(EventBusName=bus)["Rules"]
    assert [r["Name"] for r in rules] == [other.name("order-placed")]
    key = other.client("kms").describe_key(KeyId=signing_keys.alias(other, oe.SIGNING_KEY))
    assert key["KeyMetadata"]["KeyUsage"] == "SIGN_VERIFY"

    deleted = [d for kind in (signing_keys, events, queues) for d in kind.teardown(other)]

    assert f"event bus {bus}" in deleted and f"signing key alias/{bus}" in deleted
    assert bus not in {b["Name"] for b in other.client("events").list_event_buses()["EventBuses"]}
    assert not [a for a in other.client("kms").list_aliases()["Aliases"]
                if a["AliasName"].startswith(f"alias/{other.prefix}")]
    lab_bus = settings.name(oe.BUS)
    assert lab_bus in {b["Name"] for b in settings.client("events").list_event_buses()[
        "EventBuses"]}, "the lab's own prefix is spared"


def test_a_stopped_consumer_leaves_the_rest_of_its_batch_visible(queues):
    """A check that stops early (an unfinished or hanging handler) must not leave messages in
    flight: the next run's purge would miss them, and they would reappear in that run."""
    lab = queues
    sent = send(lab, [f"message {n}" for n in range(5)])
    calls = []

    def stop_at_the_second(fn, body):
        calls.append(body)
        if len(calls) == 2:
            raise oe.StopConsuming()
        return fn(body)

    ledger = oe.consume(lab.settings, lambda body: body, call=stop_at_the_second)
    assert len(ledger.processed) == 1
    sqs = lab.client("sqs")
    url = queue_url(lab.settings, oe.QUEUE)
    visible = set()
    for _ in range(5):
        got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0,
                                  VisibilityTimeout=30).get("Messages", [])
        visible |= {m["MessageId"] for m in got}
    assert visible == set(sent) - set(ledger.processed)


def test_kms_refuses_a_disabled_key_as_aws_does(lab):
    """The emulator raises DisabledException for Sign and Verify with a disabled key (moto
    answers): lab 3's check uses it to make Verify raise, as AWS does for a bad signature."""
    from botocore.exceptions import ClientError

    kms = lab.client("kms")
    key = kms.create_key(KeySpec="RSA_2048", KeyUsage="SIGN_VERIFY")["KeyMetadata"]["KeyId"]
    args = {"KeyId": key, "Message": b"m", "MessageType": "RAW",
            "SigningAlgorithm": oe.SIGNING_ALGORITHM}
    signature = kms.sign(**args)["Signature"]
    kms.disable_key(KeyId=key)
    try:
        for call in (lambda: kms.verify(Signature=signature, **args), lambda: kms.sign(**args)):
            with pytest.raises(ClientError) as refused:
                call()
            assert refused.value.response["Error"]["Code"] == "DisabledException"
    finally:
        kms.enable_key(KeyId=key)
        assert kms.verify(Signature=signature, **args)["SignatureValid"] is True
        kms.schedule_key_deletion(KeyId=key, PendingWindowInDays=7)


def test_a_tenant_session_may_batch_write_its_own_partition_only(lab):
    """The tenant-scoped role allows BatchWriteItem (boto3's batch_writer) under the same
    LeadingKeys condition as PutItem: its own partition, never another tenant's."""
    from botocore.exceptions import ClientError

    from checks.scratch import fresh_table, raw_items
    from environment.app.vending import TenantVending

    table = fresh_table(lab, "test-lab3-batch")
    mine = TenantVending(lab.settings).session("tenant-a").resource("dynamodb").Table(
        table.name)
    with mine.batch_writer() as writer:
        writer.put_item(Item={"pk": "TENANT#tenant-a", "sk": "FULFILMENT#1"})
    with pytest.raises(ClientError) as refused:
        mine.meta.client.batch_write_item(RequestItems={table.name: [
            {"PutRequest": {"Item": {"pk": {"S": "TENANT#tenant-a"}, "sk": {"S": "F#2"}}}},
            {"PutRequest": {"Item": {"pk": {"S": "TENANT#tenant-b"}, "sk": {"S": "F#3"}}}}]})
    assert refused.value.response["Error"]["Code"] == "AccessDeniedException"
    assert [(i["pk"], i["sk"]) for i in raw_items(lab, table.name)] == [
        ("TENANT#tenant-a", "FULFILMENT#1")]
