"""The account explains its decisions: AWS's messages, the evaluator's record, lab.why."""

from __future__ import annotations

import json

import pytest
from boto3.dynamodb.conditions import Key
from botocore.exceptions import ClientError

from environment.emulator.iam.policy import Request, evaluate
from environment.emulator.iam.record import NO_IDENTITY_ALLOW
from environment.errors import LabError

ACCOUNT = "123456789012"
TAG = "${aws:PrincipalTag/TenantID}"


def policy(*statements: dict) -> dict:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def own_partition(table_arn: str) -> dict:
    return {"Sid": "OwnPartitionsOnly", "Effect": "Allow",
            "Action": ["dynamodb:GetItem", "dynamodb:Query"], "Resource": table_arn,
            "Condition": {"ForAllValues:StringLike": {"dynamodb:LeadingKeys": [
                f"TENANT#{TAG}", f"TENANT#{TAG}#*"]}}}


ORDERS = f"arn:aws:dynamodb:us-east-1:{ACCOUNT}:table/saas-lab-orders"
TENANT_A = {"aws:PrincipalTag/TenantID": "tenant-a"}


def test_the_record_names_the_condition_its_values_and_the_substituted_pattern():
    request = Request("dynamodb:Query", ORDERS, {**TENANT_A,
                                                  "dynamodb:LeadingKeys": ["TENANT#tenant-b"]})
    decision = evaluate(request, [policy(own_partition(ORDERS))])
    assert not decision.allowed and decision.reason_type == NO_IDENTITY_ALLOW
    record = decision.record
    assert record.effect == "Deny" and record.deciding is record.statements[0]
    (condition,) = record.deciding.conditions
    assert (condition.operator, condition.key) == ("ForAllValues:StringLike",
                                                   "dynamodb:LeadingKeys")
    assert condition.values == ("TENANT#tenant-b",) and not condition.holds
    assert condition.patterns == ("TENANT#tenant-a", "TENANT#tenant-a#*")


def test_the_record_of_an_allow_and_of_explicit_and_session_denials():
    own = Request("dynamodb:Query", ORDERS, {**TENANT_A,
                                              "dynamodb:LeadingKeys": ["TENANT#tenant-a"]})
    allowed = evaluate(own, [policy(own_partition(ORDERS))]).record
    assert allowed.effect == "Allow" and allowed.deciding.sid == "OwnPartitionsOnly"
    deny = {"Sid": "NoScan", "Effect": "Deny", "Action": "dynamodb:Scan", "Resource": "*"}
    scan = evaluate(Request("dynamodb:Scan", ORDERS), [policy({"Effect": "Allow",
                                                               "Action": "*",
                                                               "Resource": "*"}, deny)])
    assert scan.reason == "with an explicit deny in an identity-based policy"
    assert scan.record.deciding.sid == "NoScan"
    session = evaluate(Request("s3:GetObject", "arn:aws:s3:::b/tenant-b/x"),
                       [policy({"Effect": "Allow", "Action": "s3:*", "Resource": "*"})],
                       [policy({"Sid": "Own", "Effect": "Allow", "Action": "s3:GetObject",
                                "Resource": "arn:aws:s3:::b/tenant-a/*"})])
    assert session.reason == "because no session policy allows the s3:GetObject action"
    assert session.record.deciding.policy == "session policy 1"
    assert not session.record.deciding.resource_matches


def test_an_unsupported_policy_is_explained_too():
    decision = evaluate(Request("s3:GetObject", "*"), [policy({
        "Effect": "Allow", "Action": "*", "Resource": "*",
        "Condition": {"DateGreaterThan": {"aws:CurrentTime": "2020-01-01T00:00:00Z"}}})])
    assert not decision.allowed and "DateGreaterThan" in decision.record.note


@pytest.fixture(scope="module")
def tenant_session(lab):
    name = "why-tenant"
    iam = lab.client("iam")
    iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(policy({
        "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
        "Action": ["sts:AssumeRole", "sts:TagSession"]})))
    orders = lab.table_arn("orders")
    deny_scan = {"Sid": "NeverScan", "Effect": "Deny", "Action": "dynamodb:Scan",
                 "Resource": "*"}
    iam.put_role_policy(RoleName=name, PolicyName="tenant", PolicyDocument=json.dumps(
        policy(own_partition(orders), deny_scan)))
    creds = lab.client("sts").assume_role(
        RoleArn=f"arn:aws:iam::{ACCOUNT}:role/{name}", RoleSessionName="tenant-a",
        Tags=[{"Key": "TenantID", "Value": "tenant-a"}])["Credentials"]
    return lab.session(creds)


def caught(call) -> ClientError:
    with pytest.raises(ClientError) as raised:
        call()
    return raised.value


def test_denials_use_awss_messages_and_lab_why_explains_them(lab, tenant_session):
    table = tenant_session.resource("dynamodb", endpoint_url=lab.settings.endpoint).Table(
        lab.settings.name("orders"))
    session_arn = f"arn:aws:sts::{ACCOUNT}:assumed-role/why-tenant/tenant-a"
    error = caught(lambda: table.query(KeyConditionExpression=Key("pk").eq("TENANT#tenant-b")))
    assert error.response["Error"]["Message"] == (
        f"User: {session_arn} is not authorized to perform: dynamodb:Query on resource: "
        f"{lab.table_arn('orders')} because no identity-based policy allows the dynamodb:Query "
        "action")
    text = str(lab.why(error))
    assert "Denied: dynamodb:Query" in text and "TenantID=tenant-a" in text
    assert 'dynamodb:LeadingKeys = ["TENANT#tenant-b"]' in text
    assert '["TENANT#tenant-a", "TENANT#tenant-a#*"]' in text
    assert "OwnPartitionsOnly" in text and "NeverScan" in text
    html = lab.why(error)._repr_html_()
    assert "<table>" in html and "TENANT#tenant-a#*" in html

    scan = caught(table.scan)
    assert scan.response["Error"]["Message"].endswith(
        "with an explicit deny in an identity-based policy")
    assert "Denied by identity policy 1 / NeverScan" in str(lab.why(scan))

    table.query(KeyConditionExpression=Key("pk").eq("TENANT#tenant-a"))
    allowed = str(lab.why(tenant_session))
    assert allowed.startswith("Allowed: dynamodb:Query")
    assert "Allowed by identity policy 1 / OwnPartitionsOnly" in allowed
    event = lab.audit(principal=session_arn, decision="allow")[-1]
    assert event["explanation"]["deciding"]["sid"] == "OwnPartitionsOnly"
    assert str(lab.why(event)) == allowed


def test_why_says_what_it_cannot_explain(lab):
    with pytest.raises(LabError):
        lab.why(42)
    not_iam = ClientError({"Error": {"Code": "ResourceNotFoundException", "Message": "x"}}, "Get")
    with pytest.raises(LabError):
        lab.why(not_iam)
