"""The IAM gate in front of the emulator, through boto3 exactly as lab code calls it."""

from __future__ import annotations

import json

import boto3
import pytest
from boto3.dynamodb.conditions import Key
from botocore.exceptions import ClientError

from environment.emulator.iam.principals import ADMIN, Principal, expired

ACCOUNT = "123456789012"
TAG = "${aws:PrincipalTag/TenantID}"


def policy(*statements: dict) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def trust(*actions: str, principal: str = f"arn:aws:iam::{ACCOUNT}:root") -> str:
    return policy({"Effect": "Allow", "Principal": {"AWS": principal}, "Action": list(actions)})


@pytest.fixture(scope="module")
def iam(lab):
    return lab.client("iam")


@pytest.fixture(scope="module")
def tenant_role(lab, iam):
    """A role like lab 2's: partition-scoped DynamoDB, prefix-scoped S3, a queue per tenant."""
    name = "gate-test-tenant"
    iam.create_role(RoleName=name, AssumeRolePolicyDocument=trust("sts:AssumeRole",
                                                                  "sts:TagSession"))
    iam.put_role_policy(RoleName=name, PolicyName="tenant", PolicyDocument=policy(
        {"Effect": "Allow", "Action": ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query",
                                       "dynamodb:BatchWriteItem", "dynamodb:BatchGetItem"],
         "Resource": f"arn:aws:dynamodb:*:*:table/{lab.settings.name('orders')}",
         "Condition": {"ForAllValues:StringEquals": {"dynamodb:LeadingKeys": [f"TENANT#{TAG}"]}}},
        {"Effect": "Allow", "Action": ["s3:GetObject", "s3:PutObject"],
         "Resource": f"arn:aws:s3:::{lab.settings.name('documents')}/{TAG}/*"},
        {"Effect": "Allow", "Action": "s3:ListBucket",
         "Resource": f"arn:aws:s3:::{lab.settings.name('documents')}",
         "Condition": {"StringLike": {"s3:prefix": f"{TAG}/*"}}},
        {"Effect": "Allow", "Action": ["sqs:SendMessage", "sqs:ReceiveMessage"],
         "Resource": f"arn:aws:sqs:*:*:gate-test-{TAG}"}))
    return f"arn:aws:iam::{ACCOUNT}:role/{name}"


def session_for(lab, role_arn: str, tenant: str | None = None, **extra) -> boto3.Session:
    kwargs = {"RoleArn": role_arn, "RoleSessionName": f"s-{tenant or 'none'}", **extra}
    if tenant:
        kwargs["Tags"] = [{"Key": "TenantID", "Value": tenant}]
    creds = lab.client("sts").assume_role(**kwargs)["Credentials"]
    return lab.session(creds)


def orders_table(lab, session: boto3.Session):
    return session.resource("dynamodb", endpoint_url=lab.settings.endpoint).Table(
        lab.settings.name("orders"))


def denied(call, code: str = "AccessDeniedException") -> str:
    with pytest.raises(ClientError) as raised:
        call()
    assert raised.value.response["Error"]["Code"] == code, raised.value.response
    return raised.value.response["Error"]["Message"]


def test_the_administrator_passes_straight_through(lab):
    assert lab.settings.name("orders") in lab.client("dynamodb").list_tables()["TableNames"]


def test_a_tenant_session_reaches_its_own_partition_only(lab, tenant_role):
    table = orders_table(lab, session_for(lab, tenant_role, "tenant-a"))
    table.put_item(Item={"pk": "TENANT#tenant-a", "sk": "ORDER#g1"})
    assert table.get_item(Key={"pk": "TENANT#tenant-a", "sk": "ORDER#g1"})["Item"]
    assert table.query(KeyConditionExpression=Key("pk").eq("TENANT#tenant-a"))["Count"] >= 1
    message = denied(lambda: table.query(KeyConditionExpression=Key("pk").eq("TENANT#tenant-b")))
    assert message == (
        "User: arn:aws:sts::123456789012:assumed-role/gate-test-tenant/s-tenant-a is not "
        "authorized to perform: dynamodb:Query on resource: arn:aws:dynamodb:us-east-1:"
        f"123456789012:table/{lab.settings.name('orders')} because no identity-based policy "
        "allows the dynamodb:Query action")
    denied(lambda: table.put_item(Item={"pk": "TENANT#tenant-b", "sk": "ORDER#x"}))
    denied(lambda: table.get_item(Key={"pk": "TENANT#tenant-aa", "sk": "ORDER#x"}))
    assert "dynamodb:Scan" in denied(table.scan)


def test_key_conditions_with_attribute_names_are_understood(lab, tenant_role):
    client = session_for(lab, tenant_role, "tenant-a").client(
        "dynamodb", endpoint_url=lab.settings.endpoint)
    query = {"TableName": lab.settings.name("orders"), "KeyConditionExpression": "#p = :v",
             "ExpressionAttributeNames": {"#p": "pk"}}
    client.query(**query, ExpressionAttributeValues={":v": {"S": "TENANT#tenant-a"}})
    denied(lambda: client.query(**query,
                                ExpressionAttributeValues={":v": {"S": "TENANT#tenant-b"}}))


def test_a_batch_with_one_foreign_item_is_denied_whole(lab, tenant_role):
    session = session_for(lab, tenant_role, "tenant-a")
    client = session.client("dynamodb", endpoint_url=lab.settings.endpoint)
    name = lab.settings.name("orders")
    writes = [{"PutRequest": {"Item": {"pk": {"S": "TENANT#tenant-a"}, "sk": {"S": "ORDER#b1"}}}},
              {"PutRequest": {"Item": {"pk": {"S": "TENANT#tenant-b"}, "sk": {"S": "ORDER#b2"}}}}]
    denied(lambda: client.batch_write_item(RequestItems={name: writes}))
    assert "Item" not in lab.table("orders").get_item(Key={"pk": "TENANT#tenant-a",
                                                           "sk": "ORDER#b1"})
    client.batch_write_item(RequestItems={name: writes[:1]})
    got = client.batch_get_item(RequestItems={name: {"Keys": [
        {"pk": {"S": "TENANT#tenant-a"}, "sk": {"S": "ORDER#b1"}}]}})
    assert len(got["Responses"][name]) == 1


def test_a_session_without_the_tag_reaches_nothing(lab, tenant_role):
    table = orders_table(lab, session_for(lab, tenant_role))
    denied(lambda: table.query(KeyConditionExpression=Key("pk").eq("TENANT#")))
    denied(lambda: table.put_item(Item={"pk": "TENANT#", "sk": "ORDER#x"}))


def test_the_lab_role_refuses_untagged_sessions(lab):
    arn = f"arn:aws:iam::{ACCOUNT}:role/{lab.settings.name('tenant-access')}"
    message = denied(lambda: lab.client("sts").assume_role(RoleArn=arn, RoleSessionName="no-tag"),
                     "AccessDenied")
    assert "trust policy" in message


def test_tags_need_sts_tag_session_in_the_trust_policy(lab, iam):
    iam.create_role(RoleName="gate-test-no-tagging", AssumeRolePolicyDocument=trust(
        "sts:AssumeRole"))
    arn = f"arn:aws:iam::{ACCOUNT}:role/gate-test-no-tagging"
    session_for(lab, arn)  # untagged is fine
    assert "sts:TagSession" in denied(lambda: session_for(lab, arn, "tenant-a"), "AccessDenied")


def test_an_unknown_role_cannot_be_assumed(lab):
    denied(lambda: lab.client("sts").assume_role(
        RoleArn=f"arn:aws:iam::{ACCOUNT}:role/does-not-exist", RoleSessionName="xx"),
        "AccessDenied")


def test_s3_object_prefixes_and_list_prefixes(lab, tenant_role):
    bucket = lab.settings.name("documents")
    s3 = session_for(lab, tenant_role, "tenant-a").client("s3", endpoint_url=lab.settings.endpoint)
    s3.put_object(Bucket=bucket, Key="tenant-a/invoice.txt", Body=b"a")
    assert s3.get_object(Bucket=bucket, Key="tenant-a/invoice.txt")["Body"].read() == b"a"
    denied(lambda: s3.put_object(Bucket=bucket, Key="tenant-b/invoice.txt", Body=b"x"),
           "AccessDenied")
    denied(lambda: s3.get_object(Bucket=bucket, Key="tenant-aa/x"), "AccessDenied")
    listed = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix="tenant-a/")["Contents"]]
    assert "tenant-a/invoice.txt" in listed and all(k.startswith("tenant-a/") for k in listed)
    denied(lambda: s3.list_objects_v2(Bucket=bucket, Prefix="tenant-b/"), "AccessDenied")
    denied(lambda: s3.list_objects_v2(Bucket=bucket), "AccessDenied")


def test_a_queue_per_tenant(lab, tenant_role):
    admin = lab.client("sqs")
    own = admin.create_queue(QueueName="gate-test-tenant-a")["QueueUrl"]
    other = admin.create_queue(QueueName="gate-test-tenant-b")["QueueUrl"]
    sqs = session_for(lab, tenant_role, "tenant-a").client("sqs",
                                                           endpoint_url=lab.settings.endpoint)
    sqs.send_message(QueueUrl=own, MessageBody="hello")
    assert "sqs:SendMessage" in denied(lambda: sqs.send_message(QueueUrl=other, MessageBody="x"),
                                       "AccessDenied")


def test_sns_denials_use_its_own_error_code(lab, tenant_role):
    sns = session_for(lab, tenant_role, "tenant-a").client("sns",
                                                           endpoint_url=lab.settings.endpoint)
    denied(lambda: sns.publish(TopicArn=f"arn:aws:sns:us-east-1:{ACCOUNT}:t", Message="x"),
           "AuthorizationError")


def test_cloudwatch_denials_keep_their_query_error_code(lab, tenant_role):
    cloudwatch = session_for(lab, tenant_role, "tenant-a").client(
        "cloudwatch", endpoint_url=lab.settings.endpoint)
    denied(lambda: cloudwatch.put_metric_data(Namespace="Lab", MetricData=[
        {"MetricName": "Orders", "Value": 1}]), "AccessDenied")


def test_a_session_policy_narrows_a_broad_role(lab):
    broad = f"arn:aws:iam::{ACCOUNT}:role/{lab.settings.name('order-service')}"
    bucket = lab.settings.name("documents")
    narrow = policy({"Effect": "Allow", "Action": ["s3:GetObject", "s3:PutObject"],
                     "Resource": f"arn:aws:s3:::{bucket}/tenant-b/*"})
    session = session_for(lab, broad, Policy=narrow)
    s3 = session.client("s3", endpoint_url=lab.settings.endpoint)
    s3.put_object(Bucket=bucket, Key="tenant-b/own.txt", Body=b"b")
    assert "no session policy allows" in denied(
        lambda: s3.get_object(Bucket=bucket, Key="tenant-a/invoice.txt"), "AccessDenied")
    table = orders_table(lab, session)
    denied(lambda: table.query(KeyConditionExpression=Key("pk").eq("TENANT#tenant-b")))
    full = orders_table(lab, session_for(lab, broad))
    full.query(KeyConditionExpression=Key("pk").eq("TENANT#tenant-b"))  # the broad role alone


def test_transitive_tags_follow_role_chaining(lab, iam, tenant_role):
    iam.create_role(RoleName="gate-test-first", AssumeRolePolicyDocument=trust(
        "sts:AssumeRole", "sts:TagSession"))
    iam.put_role_policy(RoleName="gate-test-first", PolicyName="chain", PolicyDocument=policy(
        {"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": tenant_role}))
    first = session_for(lab, f"arn:aws:iam::{ACCOUNT}:role/gate-test-first", "tenant-c",
                        TransitiveTagKeys=["TenantID"])
    creds = first.client("sts", endpoint_url=lab.settings.endpoint).assume_role(
        RoleArn=tenant_role, RoleSessionName="chained")["Credentials"]
    second = lab.session(creds)
    table = orders_table(lab, second)
    table.query(KeyConditionExpression=Key("pk").eq("TENANT#tenant-c"))
    denied(lambda: table.query(KeyConditionExpression=Key("pk").eq("TENANT#tenant-a")))


def test_an_iam_users_access_key_is_evaluated(lab, iam):
    iam.create_user(UserName="gate-test-user")
    iam.put_user_policy(UserName="gate-test-user", PolicyName="queues", PolicyDocument=policy(
        {"Effect": "Allow", "Action": "sqs:ListQueues", "Resource": "*"}))
    key = iam.create_access_key(UserName="gate-test-user")["AccessKey"]
    user = boto3.Session(aws_access_key_id=key["AccessKeyId"],
                         aws_secret_access_key=key["SecretAccessKey"], region_name="us-east-1")
    user.client("sqs", endpoint_url=lab.settings.endpoint).list_queues()
    assert "user/gate-test-user" in denied(
        lambda: user.client("dynamodb", endpoint_url=lab.settings.endpoint).list_tables())


def test_the_audit_trail_records_assume_role_and_denials(lab, tenant_role):
    before = lab.audit_mark()
    table = orders_table(lab, session_for(lab, tenant_role, "tenant-d"))
    denied(lambda: table.query(KeyConditionExpression=Key("pk").eq("TENANT#tenant-a")))
    events = lab.audit(since=before)
    assumed = [e for e in events if e["action"] == "sts:AssumeRole"]
    assert assumed and assumed[0]["session_tags"] == {"TenantID": "tenant-d"}
    refusal = [e for e in events if e["decision"] == "deny"][0]
    assert refusal["tenant"] == "tenant-d" and refusal["leading_keys"] == ["TENANT#tenant-a"]


def test_unknown_issued_keys_are_invalid_not_administrators(lab):
    ghost = boto3.Session(aws_access_key_id="ASIAGHOSTFROMBEFORERESET",
                          aws_secret_access_key="x", aws_session_token="y",
                          region_name="us-east-1")
    denied(lambda: ghost.client("dynamodb", endpoint_url=lab.settings.endpoint).list_tables(),
           "UnrecognizedClientException")
    denied(lambda: ghost.client("s3", endpoint_url=lab.settings.endpoint).list_buckets(),
           "InvalidAccessKeyId")


def test_expiry_is_checked():
    assert expired(Principal("session", "arn", expires=1.0), now=2.0)
    assert not expired(Principal("session", "arn", expires=3.0), now=2.0)
    assert not expired(Principal("session", "arn", expires=None), now=2.0)
    assert not expired(ADMIN, now=2.0)
