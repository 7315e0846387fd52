"""Provisioning: idempotent, deterministic, resettable, and tokens that carry the tenant."""

from __future__ import annotations

import jwt
import pytest

from environment.account import provision
from environment.account.identity import jwks_url_for
from environment.account.tenants import TENANTS, tenant, user
from environment.app.auth import verify_id_token
from environment.errors import LabError
from environment.lab import reset


def test_provisioning_twice_changes_nothing(lab, settings):
    again = provision.ensure(settings)
    assert again == lab.identity
    users = settings.client("cognito-idp").list_users(UserPoolId=lab.identity.pool_id)["Users"]
    assert sorted(u["Username"] for u in users) == sorted(e for t in TENANTS for e in t.users)
    tables = settings.client("dynamodb").list_tables()["TableNames"]
    assert {"saas-lab-orders", "saas-lab-products"} <= set(tables)


def test_every_user_signs_in_and_the_id_token_names_their_tenant_and_tier(lab):
    for t in TENANTS:
        assert len(t.users) >= 2
        for email in t.users:
            claims = verify_id_token(lab.identity, lab.id_token(email))
            assert claims["custom:tenant_id"] == t.id
            assert claims["custom:tenant_tier"] == t.tier
            assert claims["cognito:username"] == email


def test_tiers_follow_the_workshop(lab):
    assert [(t.id, t.tier, t.deployment) for t in TENANTS] == [
        ("tenant-a", "basic", "pool"), ("tenant-b", "advanced", "pool"),
        ("tenant-c", "premium", "silo"), ("tenant-d", "basic", "pool")]


def test_reset_deletes_lab_data_and_keeps_the_same_ids(lab, settings):
    orders = lab.table("orders")
    orders.put_item(Item={"pk": "TENANT#tenant-a", "sk": "ORDER#left-over"})
    fresh = reset(quiet=True)
    assert fresh.identity == lab.identity, "seeded ids must survive a reset"
    assert fresh.table("orders").scan()["Items"] == []
    claims = verify_id_token(fresh.identity, lab.id_token(TENANTS[1].users[0]))
    assert claims["custom:tenant_id"] == "tenant-b", "tokens issued before a reset stay valid"


def test_the_issuer_maps_to_the_emulators_jwks_and_to_aws_for_real_accounts(lab):
    issuer = lab.identity.issuer
    assert issuer == f"https://cognito-idp.us-east-1.amazonaws.com/{lab.identity.pool_id}"
    assert lab.identity.jwks_url == (f"{lab.settings.endpoint}/{lab.identity.pool_id}"
                                     "/.well-known/jwks.json")
    assert jwks_url_for(issuer, None) == f"{issuer}/.well-known/jwks.json"
    keys = jwt.PyJWKClient(lab.identity.jwks_url).get_jwk_set().keys
    assert [k.key_id for k in keys] == ["dummy"]


def test_unknown_tenants_and_users_get_a_clear_error():
    assert tenant("tenant-c").tier == "premium"
    assert user("bob@tenant-b.example.com")[0].id == "tenant-b"
    with pytest.raises(LabError, match="(?s)no tenant 'tenant-z'.*tenant-a, tenant-b"):
        tenant("tenant-z")
    with pytest.raises(LabError, match="no lab user"):
        user("mallory@example.com")


def test_a_wrong_password_is_a_lab_error_with_advice(lab):
    from environment.account.identity import sign_in

    with pytest.raises(LabError, match="(?s)refused to sign in.*What to do"):
        sign_in(lab.settings, lab.identity, TENANTS[0].users[0], "wrong")


def test_localstack_client_works_unchanged_against_the_emulator(lab, settings):
    import localstack_client.session

    # LocalStack's conventional keys (test/test) are the emulator's administrator; the gate
    # refuses any other unknown key, such as this Session class's own default "accesskey".
    session = localstack_client.session.Session(
        aws_access_key_id="test", aws_secret_access_key="test",
        localstack_host=f"{settings.host}:{settings.port}")
    assert "saas-lab-orders" in session.client("dynamodb").list_tables()["TableNames"]


def test_declared_queues_get_their_dead_letter_queue(lab, monkeypatch):
    """A message received max_receives times without a delete moves to the dead-letter queue."""
    from environment.account import infrastructure, queues

    monkeypatch.setattr(infrastructure, "QUEUES", (
        infrastructure.Queue("probe-dlq", "dead letters of the probe"),
        infrastructure.Queue("probe", "a probe queue", dead_letter="probe-dlq", max_receives=2)))
    queues.ensure(lab.settings)
    queues.ensure(lab.settings)  # idempotent
    sqs = lab.client("sqs")
    work, dead = (queues.queue_url(lab.settings, name) for name in ("probe", "probe-dlq"))
    try:
        sqs.send_message(QueueUrl=work, MessageBody="never deleted")
        for _ in range(2):  # received and given back at once, as a consumer that crashed would
            (message,) = sqs.receive_message(QueueUrl=work, MaxNumberOfMessages=1)["Messages"]
            sqs.change_message_visibility(QueueUrl=work, ReceiptHandle=message["ReceiptHandle"],
                                          VisibilityTimeout=0)
        assert sqs.receive_message(QueueUrl=work).get("Messages", []) == []
        (parked,) = sqs.receive_message(QueueUrl=dead)["Messages"]
        assert parked["Body"] == "never deleted"
    finally:
        for url in (work, dead):
            sqs.delete_queue(QueueUrl=url)
