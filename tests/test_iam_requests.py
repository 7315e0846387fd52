"""What the gate reads out of a request: action, resource ARN and context keys."""

from __future__ import annotations

import pytest

from environment.emulator.iam.calls import Call, Unclassifiable
from environment.emulator.iam.requests import authorizations


def keys(region: str, table: str, index: str | None) -> str | None:
    return {"orders": "pk", "orders/by-status": "status"}.get(
        f"{table}/{index}" if index else table)


def dynamodb(operation: str, **params) -> list:
    return authorizations(Call("dynamodb", operation, "json", params), keys)


def test_query_leading_key_in_either_order_and_legacy_form():
    values = {":v": {"S": "TENANT#tenant-a"}}
    for expression in ("pk = :v", ":v = pk", "#p = :v AND begins_with(sk, :s)"):
        (request,) = dynamodb("Query", TableName="orders", KeyConditionExpression=expression,
                              ExpressionAttributeNames={"#p": "pk"},
                              ExpressionAttributeValues=values)
        assert request.context["dynamodb:LeadingKeys"] == ["TENANT#tenant-a"], expression
    (legacy,) = dynamodb("Query", TableName="orders", KeyConditions={
        "pk": {"ComparisonOperator": "EQ", "AttributeValueList": [{"S": "TENANT#tenant-b"}]}})
    assert legacy.context["dynamodb:LeadingKeys"] == ["TENANT#tenant-b"]


def test_a_query_on_an_index_uses_the_index_key_and_arn():
    (request,) = dynamodb("Query", TableName="orders", IndexName="by-status",
                          KeyConditionExpression="status = :s",
                          ExpressionAttributeValues={":s": {"S": "open"}})
    assert request.resource.endswith("table/orders/index/by-status")
    assert request.context["dynamodb:LeadingKeys"] == ["open"]


def test_scan_has_no_leading_keys_and_item_calls_do():
    (scan,) = dynamodb("Scan", TableName="orders")
    assert "dynamodb:LeadingKeys" not in scan.context
    (put,) = dynamodb("PutItem", TableName="orders", Item={"pk": {"S": "T#1"}, "n": {"N": "1"}})
    assert put.context["dynamodb:LeadingKeys"] == ["T#1"]
    assert put.context["dynamodb:Attributes"] == ["n", "pk"]
    (get,) = dynamodb("GetItem", TableName="orders", Key={"pk": {"S": "T#2"}},
                      ProjectionExpression="#a, items[0].sku", ExpressionAttributeNames={
                          "#a": "status"}, Select="SPECIFIC_ATTRIBUTES")
    assert get.context["dynamodb:Attributes"] == ["items", "status"]
    assert get.context["dynamodb:Select"] == "SPECIFIC_ATTRIBUTES"


def test_batches_and_transactions_ask_once_per_item():
    writes = dynamodb("BatchWriteItem", RequestItems={"orders": [
        {"PutRequest": {"Item": {"pk": {"S": "A"}}}},
        {"DeleteRequest": {"Key": {"pk": {"S": "B"}}}}]})
    assert [r.context["dynamodb:LeadingKeys"] for r in writes] == [["A"], ["B"]]
    assert {r.action for r in writes} == {"dynamodb:BatchWriteItem"}
    transaction = dynamodb("TransactWriteItems", TransactItems=[
        {"Put": {"TableName": "orders", "Item": {"pk": {"S": "A"}}}},
        {"ConditionCheck": {"TableName": "orders", "Key": {"pk": {"S": "C"}}}}])
    assert [r.action for r in transaction] == ["dynamodb:PutItem", "dynamodb:ConditionCheckItem"]


def test_get_caller_identity_needs_no_permission():
    assert authorizations(Call("sts", "GetCallerIdentity", "query"), keys) == []


def s3(operation: str, bucket: str | None, object_key: str | None = None, method: str = "GET",
       headers: dict | None = None, body: bytes = b"", **params) -> list:
    return authorizations(Call("s3", operation, "rest-xml", params, bucket=bucket, key=object_key,
                               method=method, headers=headers or {}, body=body,
                               query={k: v for k, v in params.items() if isinstance(v, str)}),
                          keys)


def test_s3_listing_carries_its_prefix():
    (request,) = s3("ListBucket", "docs", prefix="tenant-a/")
    assert request.action == "s3:ListBucket" and request.resource == "arn:aws:s3:::docs"
    assert request.context["s3:prefix"] == "tenant-a/"
    (versions,) = s3("ListBucketVersions", "docs", prefix="tenant-b/")
    assert versions.context["s3:prefix"] == "tenant-b/"
    (everything,) = s3("ListAllMyBuckets", None)
    assert everything.resource == "*"


def test_a_copy_reads_its_source():
    target, source = s3("PutObject", "docs", "tenant-a/copy", "PUT",
                        {"x-amz-copy-source": "/docs/tenant-b/secret%20file.txt"})
    assert target.resource == "arn:aws:s3:::docs/tenant-a/copy"
    assert (source.action, source.resource) == ("s3:GetObject",
                                                "arn:aws:s3:::docs/tenant-b/secret file.txt")
    _, versioned = s3("PutObject", "docs", "tenant-a/p", "PUT",
                      {"x-amz-copy-source": "docs/tenant-b/x?versionId=7"}, uploadId="u")
    assert versioned.action == "s3:GetObjectVersion"
    with pytest.raises(Unclassifiable):
        s3("PutObject", "docs", "tenant-a/copy", "PUT", {"x-amz-copy-source": "nokey"})


def test_a_form_upload_and_a_multi_delete_name_their_objects():
    (upload,) = s3("PutObject", "docs", None, "POST", key="tenant-b/form.txt")
    assert upload.resource == "arn:aws:s3:::docs/tenant-b/form.txt"
    with pytest.raises(Unclassifiable):
        s3("PutObject", "docs", None, "POST")
    body = (b"<Delete><Object><Key>tenant-a/1</Key></Object>"
            b"<Object><Key>tenant-b/2</Key><VersionId>v</VersionId></Object></Delete>")
    deletes = s3("DeleteObject", "docs", None, "POST", body=body)
    assert [(r.action, r.resource) for r in deletes] == [
        ("s3:DeleteObject", "arn:aws:s3:::docs/tenant-a/1"),
        ("s3:DeleteObjectVersion", "arn:aws:s3:::docs/tenant-b/2")]


def test_a_transaction_reads_the_key_moto_reads_not_a_stray_item():
    (get,) = dynamodb("TransactGetItems", TransactItems=[
        {"Get": {"TableName": "orders", "Key": {"pk": {"S": "TENANT#tenant-b"}},
                 "Item": {"pk": {"S": "TENANT#tenant-a"}}}}])
    assert get.context["dynamodb:LeadingKeys"] == ["TENANT#tenant-b"]
    with pytest.raises(Unclassifiable):
        dynamodb("TransactWriteItems", TransactItems=[{"Smuggle": {"TableName": "orders"}}])
    with pytest.raises(Unclassifiable):
        dynamodb("BatchWriteItem", RequestItems={"orders": [{"Neither": {}}]})


def test_every_event_bus_of_put_events_is_a_resource():
    buses = authorizations(Call("events", "PutEvents", "json", {"Entries": [
        {"EventBusName": "tenant-a"}, {"EventBusName": "tenant-b"}, {}]}), keys)
    assert [r.resource.rsplit("/", 1)[-1] for r in buses] == ["default", "tenant-a", "tenant-b"]


def test_a_table_arn_is_the_table_and_a_foreign_arn_is_refused():
    arn = "arn:aws:dynamodb:us-east-1:123456789012:table/orders"
    (get,) = dynamodb("GetItem", TableName=arn, Key={"pk": {"S": "T#b"}})
    assert get.resource == arn and get.context["dynamodb:LeadingKeys"] == ["T#b"]
    for foreign in ("arn:aws:dynamodb:eu-west-1:123456789012:table/orders",
                    "arn:aws:dynamodb:us-east-1:999999999999:table/orders", "arn:aws:x"):
        with pytest.raises(Unclassifiable):
            dynamodb("GetItem", TableName=foreign, Key={"pk": {"S": "T#b"}})


def test_every_equality_on_the_partition_key_counts():
    (query,) = dynamodb("Query", TableName="orders", KeyConditionExpression="pk = :a AND pk = :b",
                        ExpressionAttributeValues={":a": {"S": "A"}, ":b": {"S": "B"}})
    assert query.context["dynamodb:LeadingKeys"] == ["A", "B"]
    with pytest.raises(Unclassifiable):
        dynamodb("GetItem", TableName="orders", Key={"pk": {"L": []}})


def test_an_update_of_the_partition_key_is_refused():
    with pytest.raises(Unclassifiable):
        dynamodb("UpdateItem", TableName="orders", Key={"pk": {"S": "A"}},
                 AttributeUpdates={"pk": {"Value": {"S": "B"}, "Action": "PUT"}})
    (update,) = dynamodb("UpdateItem", TableName="orders", Key={"pk": {"S": "A"}},
                         AttributeUpdates={"n": {"Value": {"N": "1"}, "Action": "PUT"}})
    assert update.context["dynamodb:LeadingKeys"] == ["A"]


def test_updates_and_batch_reads_carry_the_attributes_they_touch():
    """dynamodb:Attributes: the top-level attributes a request accesses or updates (AWS's
    fine-grained access control), so ForAllValues:StringEquals patterns restrict them too."""
    key = {"pk": {"S": "TENANT#a"}}
    (update,) = dynamodb("UpdateItem", TableName="orders", Key=key,
                         UpdateExpression="SET #t = :t, a.b = if_not_exists(a.b, :z) REMOVE c[0]",
                         ExpressionAttributeNames={"#t": "tenant_id"})
    assert update.context["dynamodb:Attributes"] == ["a", "c", "tenant_id"]
    (legacy,) = dynamodb("UpdateItem", TableName="orders", Key=key,
                         AttributeUpdates={"secret": {"Action": "PUT", "Value": {"S": "x"}}})
    assert legacy.context["dynamodb:Attributes"] == ["secret"]
    (batch,) = dynamodb("BatchGetItem", RequestItems={"orders": {
        "Keys": [key], "ProjectionExpression": "#s, total",
        "ExpressionAttributeNames": {"#s": "secret"}}})
    assert batch.context["dynamodb:Attributes"] == ["secret", "total"]
    (get,) = dynamodb("TransactGetItems", TransactItems=[{"Get": {
        "TableName": "orders", "Key": key, "ProjectionExpression": "secret"}}])
    assert get.context["dynamodb:Attributes"] == ["secret"]
    (write,) = dynamodb("TransactWriteItems", TransactItems=[{"Update": {
        "TableName": "orders", "Key": key, "UpdateExpression": "ADD n :one"}}])
    assert write.context["dynamodb:Attributes"] == ["n"]
