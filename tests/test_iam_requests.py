"""What the gate reads out of a request: action, resource ARN and context keys."""

from __future__ import annotations

import io
import json

from environment.iam.calls import Call, members, parse_call, signature
from environment.iam.requests import authorizations

AUTH = ("AWS4-HMAC-SHA256 Credential=ASIAEXAMPLE/20261123/us-east-1/{service}/aws4_request, "
        "SignedHeaders=host, Signature=abc")


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


def environ(method: str, path: str, service: str, query: str = "", host: str = "127.0.0.1:4566",
            target: str = "", body: bytes = b"") -> dict:
    env = {"REQUEST_METHOD": method, "PATH_INFO": path, "QUERY_STRING": query,
           "HTTP_HOST": host, "HTTP_AUTHORIZATION": AUTH.format(service=service),
           "wsgi.input": io.BytesIO(body), "CONTENT_LENGTH": str(len(body))}
    if target:
        env["HTTP_X_AMZ_TARGET"] = target
    return env


def parsed(env: dict) -> Call:
    sig = signature(env)
    assert sig is not None
    return parse_call(env, env["wsgi.input"].read(), sig)


def test_s3_path_and_virtual_host_addressing():
    call = parsed(environ("GET", "/docs/tenant-a/x.pdf", "s3"))
    assert (call.action, call.bucket, call.key) == ("s3:GetObject", "docs", "tenant-a/x.pdf")
    listing = parsed(environ("GET", "/", "s3", "list-type=2&prefix=tenant-a%2F",
                             host="docs.localhost:4566"))
    (request,) = authorizations(listing, keys)
    assert request.action == "s3:ListBucket" and request.resource == "arn:aws:s3:::docs"
    assert request.context["s3:prefix"] == "tenant-a/"


def test_json_query_and_cbor_protocols():
    body = json.dumps({"QueueUrl": "http://127.0.0.1:4566/123456789012/jobs"}).encode()
    sqs = parsed(environ("POST", "/", "sqs", target="AmazonSQS.SendMessage", body=body))
    (request,) = authorizations(sqs, keys)
    assert request.resource == "arn:aws:sqs:us-east-1:123456789012:jobs"
    sts = parsed(environ("POST", "/", "sts", body=b"Action=AssumeRole&RoleArn=arn%3Arole&"
                         b"Tags.member.1.Key=TenantID&Tags.member.1.Value=tenant-a"))
    assert sts.action == "sts:AssumeRole"
    assert members(sts.params, "Tags") == [{"Key": "TenantID", "Value": "tenant-a"}]
    cbor = parsed(environ("POST", "/service/GraniteServiceVersion20100801/operation/"
                          "PutMetricData", "monitoring"))
    assert cbor.action == "cloudwatch:PutMetricData" and cbor.protocol == "cbor"
