"""The IAM gate on lab 3's messaging path: EventBridge buses, SQS queues and KMS signing keys.

A producer role may put events on the order-events bus, send to the order-events queue and
sign with the order-events key; a consumer role may receive, change visibility and delete on
that queue and verify with that key. Everything else is refused, and the gate describes a KMS
call by the key moto will use (its id, ARN or alias all name the same key), failing closed
for KMS operations it cannot describe (Decrypt finds its key in the ciphertext).
"""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError

from environment.account.signing_keys import alias
from environment.app import order_events as oe
from environment.emulator.iam.calls import Call, Unclassifiable
from environment.emulator.iam.requests import authorizations

ACCOUNT = "123456789012"


def policy(*statements: dict) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def trust() -> str:
    return policy({"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
                   "Action": "sts:AssumeRole"})


@pytest.fixture(scope="module")
def path(lab):
    """ARNs of the order-events bus, queues and signing key, and the two roles' sessions."""
    sqs, kms, iam = lab.client("sqs"), lab.client("kms"), lab.client("iam")
    region = lab.settings.region
    queue = sqs.get_queue_url(QueueName=lab.settings.name(oe.QUEUE))["QueueUrl"]
    dlq = sqs.get_queue_url(QueueName=lab.settings.name(oe.DEAD_LETTERS))["QueueUrl"]
    key_arn = kms.describe_key(KeyId=alias(lab.settings, oe.SIGNING_KEY))["KeyMetadata"]["Arn"]
    other_key = kms.create_key(KeySpec="RSA_2048", KeyUsage="SIGN_VERIFY")["KeyMetadata"]
    arns = {"bus": f"arn:aws:events:{region}:{ACCOUNT}:event-bus/{lab.settings.name(oe.BUS)}",
            "queue": f"arn:aws:sqs:{region}:{ACCOUNT}:{lab.settings.name(oe.QUEUE)}",
            "key": key_arn}
    roles = {
        "producer": policy(
            {"Effect": "Allow", "Action": "events:PutEvents", "Resource": arns["bus"]},
            {"Effect": "Allow", "Action": "sqs:SendMessage", "Resource": arns["queue"]},
            {"Effect": "Allow", "Action": "kms:Sign", "Resource": arns["key"]}),
        "consumer": policy(
            {"Effect": "Allow", "Action": ["sqs:ReceiveMessage", "sqs:DeleteMessage",
                                           "sqs:ChangeMessageVisibility"],
             "Resource": arns["queue"]},
            {"Effect": "Allow", "Action": "kms:Verify", "Resource": arns["key"]}),
        "kms-everything": policy({"Effect": "Allow", "Action": "kms:*", "Resource": "*"}),
    }
    sessions = {}
    for name, document in roles.items():
        role = f"gate-test-{name}"
        iam.create_role(RoleName=role, AssumeRolePolicyDocument=trust())
        iam.put_role_policy(RoleName=role, PolicyName="messaging", PolicyDocument=document)
        creds = lab.client("sts").assume_role(RoleArn=f"arn:aws:iam::{ACCOUNT}:role/{role}",
                                              RoleSessionName=name)["Credentials"]
        sessions[name] = lab.session(creds)
    oe.purge(lab.settings)
    yield {"queue": queue, "dlq": dlq, "key": key_arn, "other_key": other_key["KeyId"],
           "alias": alias(lab.settings, oe.SIGNING_KEY), "sessions": sessions, **{
               f"{k}_arn": v for k, v in arns.items()}}
    oe.purge(lab.settings)


def denied(call) -> str:
    with pytest.raises(ClientError) as error:
        call()
    assert error.value.response["Error"]["Code"] in ("AccessDeniedException", "AccessDenied"), \
        error.value.response["Error"]
    return error.value.response["Error"]["Message"]


def entry(bus: str) -> dict:
    return {"EventBusName": bus, "Source": oe.SOURCE, "DetailType": oe.DETAIL_TYPE,
            "Detail": json.dumps({"n": 1})}


def test_a_producer_puts_events_on_its_bus_only(lab, path):
    events = path["sessions"]["producer"].client("events")
    bus = lab.settings.name(oe.BUS)
    assert events.put_events(Entries=[entry(bus)])["FailedEntryCount"] == 0
    assert "event-bus/default" in denied(lambda: events.put_events(Entries=[entry("default")]))
    # One entry for another bus refuses the whole call: nothing of it is delivered.
    denied(lambda: events.put_events(Entries=[entry(bus), entry("default")]))
    ledger = oe.consume(lab.settings, lambda body: json.loads(body)["detail"]["n"])
    assert list(ledger.results.values()) == [1]


def test_a_producer_sends_to_the_queue_but_not_to_the_dead_letters(path):
    sqs = path["sessions"]["producer"].client("sqs")
    sqs.send_message(QueueUrl=path["queue"], MessageBody="hello")
    denied(lambda: sqs.send_message(QueueUrl=path["dlq"], MessageBody="forged dead letter"))
    denied(lambda: sqs.receive_message(QueueUrl=path["queue"]))


def test_a_consumer_receives_and_deletes_but_cannot_send(path):
    sqs = path["sessions"]["consumer"].client("sqs")
    path["sessions"]["producer"].client("sqs").send_message(QueueUrl=path["queue"],
                                                           MessageBody="work")
    message = sqs.receive_message(QueueUrl=path["queue"], MaxNumberOfMessages=10)["Messages"][0]
    sqs.change_message_visibility(QueueUrl=path["queue"], ReceiptHandle=message["ReceiptHandle"],
                                  VisibilityTimeout=0)
    again = sqs.receive_message(QueueUrl=path["queue"], MaxNumberOfMessages=10)["Messages"][0]
    sqs.delete_message(QueueUrl=path["queue"], ReceiptHandle=again["ReceiptHandle"])
    denied(lambda: sqs.send_message(QueueUrl=path["queue"], MessageBody="x"))
    denied(lambda: sqs.receive_message(QueueUrl=path["dlq"]))


def sign(session, key_id: str) -> bytes:
    return session.client("kms").sign(KeyId=key_id, Message=b"context", MessageType="RAW",
                                      SigningAlgorithm=oe.SIGNING_ALGORITHM)["Signature"]


def test_kms_calls_are_judged_by_the_key_whatever_names_it(lab, path):
    producer = path["sessions"]["producer"]
    key_id = path["key"].rsplit("/", 1)[-1]
    alias_arn = f"arn:aws:kms:{lab.settings.region}:{ACCOUNT}:{path['alias']}"
    mark = lab.audit_mark()
    for name in (path["alias"], alias_arn, key_id, path["key"]):
        signature = sign(producer, name)
    signs = lab.audit(since=mark, action="kms:Sign")
    assert [e["resource"] for e in signs] == [path["key"]] * 4
    assert all(e["decision"] == "allow" for e in signs)
    assert path["key"] in denied(lambda: producer.client("kms").verify(
        KeyId=path["alias"], Message=b"context", MessageType="RAW", Signature=signature,
        SigningAlgorithm=oe.SIGNING_ALGORITHM))
    denied(lambda: sign(producer, path["other_key"]))
    consumer = path["sessions"]["consumer"].client("kms")
    assert consumer.verify(KeyId=path["alias"], Message=b"context", MessageType="RAW",
                           Signature=signature,
                           SigningAlgorithm=oe.SIGNING_ALGORITHM)["SignatureValid"]
    denied(lambda: sign(path["sessions"]["consumer"], path["alias"]))


def test_kms_calls_the_gate_cannot_describe_are_refused(path):
    kms = path["sessions"]["kms-everything"].client("kms")
    assert sign(path["sessions"]["kms-everything"], path["alias"])  # kms:* on "*" signs
    kms.list_keys()
    for refused in (lambda: kms.decrypt(CiphertextBlob=b"\x01" * 64),
                    lambda: kms.sign(KeyId="alias/no-such-key", Message=b"x", MessageType="RAW",
                                     SigningAlgorithm=oe.SIGNING_ALGORITHM),
                    lambda: kms.create_alias(AliasName="alias/mine",
                                             TargetKeyId=path["other_key"])):
        denied(refused)


KEY = f"arn:aws:kms:us-east-1:{ACCOUNT}:key/k-1"


def kms_call(operation: str, **params) -> list:
    def resolve(region: str, key_id: str) -> str | None:
        return KEY if key_id in ("k-1", "alias/signing", KEY) else None

    return authorizations(Call("kms", operation, "json", params), lambda *a: None,
                          kms_key=resolve)


def test_the_gate_describes_a_kms_call_by_the_key_it_uses():
    for name in ("k-1", "alias/signing", KEY):
        assert [(r.action, r.resource) for r in kms_call("Sign", KeyId=name)] == [
            ("kms:Sign", KEY)]
    assert [r.resource for r in kms_call("ListKeys")] == ["*"]
    for operation, params in [("Sign", {"KeyId": "alias/unknown"}), ("Sign", {}),
                              ("Decrypt", {"CiphertextBlob": "x", "KeyId": "k-1"}),
                              ("ReEncrypt", {"DestinationKeyId": "k-1"}),
                              ("CreateAlias", {"AliasName": "alias/x", "TargetKeyId": "k-1"}),
                              ("CreateGrant", {"KeyId": "k-1"})]:
        with pytest.raises(Unclassifiable):
            kms_call(operation, **params)
