"""Attempts to get around the IAM gate, each asserted denied with the error AWS gives.

A tenant-a session under a lab-2-like policy tries to reach tenant-b's data:
through resources the gate might not authorise, signatures it might not
recognise, two readings of one request, borrowed identities, unsigned calls,
the kit's own endpoints, and bodies it might fail to parse. Every attempt runs
over real HTTP against the emulator, with boto3 where boto3 can express it and
with hand-built (but correctly signed) requests where it cannot.
"""

from __future__ import annotations

import gzip
import http.client
import io
import json
from urllib.parse import urlparse

import boto3
import pytest
import requests
from botocore import UNSIGNED
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from environment.emulator.iam.gate import IamGate
from environment.emulator.iam.principals import Session
from environment.emulator.iam.signing import AuthError, read_signature

ACCOUNT = "123456789012"
TAG = "${aws:PrincipalTag/TenantID}"
DYNAMODB_TARGET = "DynamoDB_20120810"


def policy(*statements: dict) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


@pytest.fixture(scope="module")
def role(lab):
    """Lab 2's correct policies: own partition of the orders table, own prefix of the bucket."""
    name = "bypass-tenant"
    iam = lab.client("iam")
    iam.create_role(RoleName=name, AssumeRolePolicyDocument=policy({
        "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
        "Action": ["sts:AssumeRole", "sts:TagSession"]}))
    orders, bucket = lab.settings.name("orders"), lab.bucket
    iam.put_role_policy(RoleName=name, PolicyName="tenant", PolicyDocument=policy(
        {"Effect": "Allow", "Action": ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query",
                                       "dynamodb:BatchGetItem", "dynamodb:BatchWriteItem"],
         "Resource": f"arn:aws:dynamodb:*:*:table/{orders}",
         "Condition": {"ForAllValues:StringEquals": {"dynamodb:LeadingKeys": [f"TENANT#{TAG}"]}}},
        {"Effect": "Allow", "Action": ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"],
         "Resource": f"arn:aws:s3:::{bucket}/{TAG}/*"},
        {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": f"arn:aws:s3:::{bucket}",
         "Condition": {"StringLike": {"s3:prefix": f"{TAG}/*"}}}))
    admin_s3 = lab.client("s3")
    admin_s3.put_object(Bucket=bucket, Key="tenant-b/secret.txt", Body=b"tenant-b's secret")
    admin_s3.put_object(Bucket=bucket, Key="tenant-a/own.txt", Body=b"tenant-a's own")
    lab.table("orders").put_item(Item={"pk": "TENANT#tenant-b", "sk": "ORDER#secret"})
    return f"arn:aws:iam::{ACCOUNT}:role/{name}"


@pytest.fixture(scope="module")
def creds(lab, role) -> dict:
    return lab.client("sts").assume_role(
        RoleArn=role, RoleSessionName="tenant-a",
        Tags=[{"Key": "TenantID", "Value": "tenant-a"}])["Credentials"]


@pytest.fixture(scope="module")
def tenant(lab, creds) -> boto3.Session:
    return lab.session(creds)


def signing(creds: dict) -> Credentials:
    return Credentials(creds["AccessKeyId"], creds["SecretAccessKey"], creds["SessionToken"])


def send(lab, credentials: Credentials | None, service: str, method: str, path: str = "/",
         query: str = "", headers: dict | None = None, body: bytes = b"",
         region: str = "us-east-1") -> requests.Response:
    """A hand-built request, correctly SigV4-signed (unless credentials is None)."""
    url = f"{lab.settings.endpoint}{path}" + (f"?{query}" if query else "")
    request = AWSRequest(method=method, url=url, data=body, headers=headers or {})
    if credentials is not None:
        SigV4Auth(credentials, service, region).add_auth(request)
    return requests.request(method, url, headers=dict(request.headers.items()), data=body,
                            timeout=10)


def code_of(response: requests.Response) -> str:
    text = response.text
    if text.startswith("{"):
        return json.loads(text)["__type"].rsplit("#", 1)[-1]
    return text.split("<Code>", 1)[1].split("</Code>", 1)[0]


def refused(call, code: str) -> str:
    with pytest.raises(ClientError) as raised:
        call()
    assert raised.value.response["Error"]["Code"] == code, raised.value.response
    return raised.value.response["Error"]["Message"]


def client(lab, session: boto3.Session, service: str, **config):
    return session.client(service, endpoint_url=lab.settings.endpoint,
                          config=Config(retries={"max_attempts": 1}, **config))


# --- resources the gate must authorise --------------------------------------------------------


def test_copy_object_reads_its_source(lab, tenant):
    s3 = client(lab, tenant, "s3")
    message = refused(lambda: s3.copy_object(
        Bucket=lab.bucket, Key="tenant-a/stolen.txt",
        CopySource={"Bucket": lab.bucket, "Key": "tenant-b/secret.txt"}), "AccessDenied")
    assert "s3:GetObject" in message and "tenant-b/secret.txt" in message
    s3.copy_object(Bucket=lab.bucket, Key="tenant-a/copy.txt",
                   CopySource={"Bucket": lab.bucket, "Key": "tenant-a/own.txt"})


def test_upload_part_copy_reads_its_source(lab, tenant):
    s3 = client(lab, tenant, "s3")
    upload = s3.create_multipart_upload(Bucket=lab.bucket, Key="tenant-a/parts.txt")["UploadId"]
    refused(lambda: s3.upload_part_copy(
        Bucket=lab.bucket, Key="tenant-a/parts.txt", UploadId=upload, PartNumber=1,
        CopySource={"Bucket": lab.bucket, "Key": "tenant-b/secret.txt"}), "AccessDenied")


def test_a_multi_object_delete_is_authorised_per_key(lab, tenant):
    s3 = client(lab, tenant, "s3")
    refused(lambda: s3.delete_objects(Bucket=lab.bucket, Delete={"Objects": [
        {"Key": "tenant-a/copy.txt"}, {"Key": "tenant-b/secret.txt"}]}), "AccessDenied")
    assert lab.client("s3").get_object(Bucket=lab.bucket, Key="tenant-b/secret.txt")


def test_a_form_upload_to_the_bucket_url_is_a_put_of_its_key(lab, creds):
    boundary = "xYzZY"
    form = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"key\"\r\n\r\n"
            f"tenant-b/planted.txt\r\n--{boundary}\r\nContent-Disposition: form-data; "
            f"name=\"file\"; filename=\"x\"\r\nContent-Type: text/plain\r\n\r\nplanted\r\n"
            f"--{boundary}--\r\n").encode()
    headers = {"Content-Type": f"multipart/form-data; boundary={boundary}"}
    for who in (signing(creds), None):
        answer = send(lab, who, "s3", "POST", f"/{lab.bucket}", "prefix=tenant-a/", headers,
                      form)
        assert answer.status_code == 403 and code_of(answer) == "AccessDenied", answer.text
    refused(lambda: lab.client("s3").head_object(Bucket=lab.bucket, Key="tenant-b/planted.txt"),
            "404")


# --- signatures the gate must verify or refuse ------------------------------------------------


def test_sigv2_presigned_urls_and_clients_are_refused(lab, tenant):
    s3 = client(lab, tenant, "s3")
    url = s3.generate_presigned_url("get_object", Params={"Bucket": lab.bucket,
                                                          "Key": "tenant-b/secret.txt"})
    assert "AWSAccessKeyId=" in url
    answer = requests.get(url, timeout=10)
    assert answer.status_code == 400 and code_of(answer) == "InvalidRequest"
    v2 = client(lab, tenant, "s3", signature_version="s3")
    assert "AWS4-HMAC-SHA256" in refused(
        lambda: v2.get_object(Bucket=lab.bucket, Key="tenant-a/own.txt"), "InvalidRequest")


def test_sigv4_presigned_urls_are_verified_and_authorised(lab, tenant):
    s3 = client(lab, tenant, "s3", signature_version="s3v4")
    own = s3.generate_presigned_url("get_object", Params={"Bucket": lab.bucket,
                                                          "Key": "tenant-a/own.txt"})
    assert requests.get(own, timeout=10).content == b"tenant-a's own"
    other = s3.generate_presigned_url("get_object", Params={"Bucket": lab.bucket,
                                                            "Key": "tenant-b/secret.txt"})
    assert requests.get(other, timeout=10).status_code == 403
    forged = own.replace("tenant-a/own.txt", "tenant-b/secret.txt")
    answer = requests.get(forged, timeout=10)
    assert answer.status_code == 403 and code_of(answer) == "SignatureDoesNotMatch"


def test_a_malformed_credential_scope_is_refused(lab, creds):
    header = (f"AWS4-HMAC-SHA256 Credential={creds['AccessKeyId']}/2026111/us-east-1/dynamodb/"
              f"aws4_request, SignedHeaders=host;x-amz-date, Signature={'0' * 64}")
    answer = requests.post(lab.settings.endpoint, timeout=10, data=b"{}", headers={
        "Authorization": header, "X-Amz-Date": "20261124T000000Z",
        "X-Amz-Target": f"{DYNAMODB_TARGET}.Scan",
        "Content-Type": "application/x-amz-json-1.0"})
    assert answer.status_code == 400 and code_of(answer) == "IncompleteSignatureException"
    unknown = requests.get(f"{lab.settings.endpoint}/{lab.bucket}", timeout=10,
                           headers={"Authorization": "Bearer whatever"})
    assert unknown.status_code == 400 and code_of(unknown) == "AuthorizationHeaderMalformed"


# --- one request, two readings ----------------------------------------------------------------


def dynamodb_request(lab, creds, operation: str, payload: object, query: str = "",
                     **headers: str) -> requests.Response:
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return send(lab, signing(creds), "dynamodb", "POST", "/", query, {
        "X-Amz-Target": f"{DYNAMODB_TARGET}.{operation}",
        "Content-Type": "application/x-amz-json-1.0", **headers}, body)


def foreign_key(lab) -> dict:
    return {"TableName": lab.settings.name("orders"),
            "Key": {"pk": {"S": "TENANT#tenant-b"}, "sk": {"S": "ORDER#secret"}}}


def test_an_action_in_the_query_string_does_not_override_the_target(lab, creds):
    answer = dynamodb_request(lab, creds, "GetItem", {
        "TableName": lab.settings.name("orders"),
        "Key": {"pk": {"S": "TENANT#tenant-a"}, "sk": {"S": "x"}}}, "Action=Scan")
    assert answer.status_code == 400 and code_of(answer) == "AccessDeniedException"
    assert "more than one operation" in answer.text


def test_a_gzip_body_is_judged_as_moto_decodes_it(lab, creds):
    answer = dynamodb_request(lab, creds, "GetItem", gzip.compress(
        json.dumps(foreign_key(lab)).encode()), **{"Content-Encoding": "gzip"})
    assert answer.status_code == 400 and code_of(answer) == "AccessDeniedException"
    assert "dynamodb:GetItem" in answer.text


def test_a_transaction_item_is_judged_by_the_key_moto_reads(lab, tenant):
    dynamodb = client(lab, tenant, "dynamodb")
    refused(lambda: dynamodb.transact_get_items(TransactItems=[{"Get": foreign_key(lab)}]),
            "AccessDeniedException")


def test_a_raw_transaction_with_a_stray_item_is_denied(lab, creds):
    smuggled = {**foreign_key(lab), "Item": {"pk": {"S": "TENANT#tenant-a"}}}
    answer = dynamodb_request(lab, creds, "TransactGetItems",
                              {"TransactItems": [{"Get": smuggled}]})
    assert answer.status_code == 400 and code_of(answer) == "AccessDeniedException"


def test_sts_action_in_url_and_body_must_agree(lab, creds, role):
    answer = send(lab, signing(creds), "sts", "POST", "/",
                  f"Action=AssumeRole&RoleArn={role}&RoleSessionName=x&Version=2011-06-15",
                  {"Content-Type": "application/x-www-form-urlencoded"},
                  b"Action=GetCallerIdentity&Version=2011-06-15")
    assert answer.status_code == 403 and code_of(answer) == "AccessDenied", answer.text


def test_the_region_is_the_one_moto_uses(lab, creds):
    body = json.dumps(foreign_key(lab)).encode()
    answer = send(lab, signing(creds), "dynamodb", "POST", "/", "", {
        "Host": "dynamodb.eu-west-1.amazonaws.com",
        "X-Amz-Target": f"{DYNAMODB_TARGET}.GetItem",
        "Content-Type": "application/x-amz-json-1.0"}, body)
    assert answer.status_code == 400 and code_of(answer) == "InvalidSignatureException"
    assert "region" in answer.text


def test_a_credential_scoped_to_another_service_is_refused(lab, creds):
    body = json.dumps(foreign_key(lab)).encode()
    answer = send(lab, signing(creds), "sqs", "POST", "/", "", {
        "X-Amz-Target": f"{DYNAMODB_TARGET}.GetItem",
        "Content-Type": "application/x-amz-json-1.0"}, body)
    assert answer.status_code == 400 and code_of(answer) == "AccessDeniedException"
    assert "ORDER#secret" not in answer.text


# --- identity ---------------------------------------------------------------------------------


def test_an_access_key_id_alone_is_not_the_session(lab, creds):
    thief = boto3.Session(aws_access_key_id=creds["AccessKeyId"],
                          aws_secret_access_key="guessed", aws_session_token=creds["SessionToken"],
                          region_name="us-east-1")
    refused(lambda: client(lab, thief, "dynamodb").list_tables(), "InvalidSignatureException")
    refused(lambda: client(lab, thief, "s3").list_objects_v2(Bucket=lab.bucket,
                                                             Prefix="tenant-a/"),
            "SignatureDoesNotMatch")


def test_session_credentials_without_their_token_fail(lab, creds):
    """Exercise 2.3's trap: a session's key and secret alone are not credentials on AWS."""
    tokenless = boto3.Session(aws_access_key_id=creds["AccessKeyId"],
                              aws_secret_access_key=creds["SecretAccessKey"],
                              region_name="us-east-1")
    table = lab.settings.name("orders")
    refused(lambda: client(lab, tokenless, "dynamodb").get_item(
        TableName=table, Key={"pk": {"S": "TENANT#tenant-a"}, "sk": {"S": "x"}}),
        "UnrecognizedClientException")
    wrong = boto3.Session(aws_access_key_id=creds["AccessKeyId"],
                          aws_secret_access_key=creds["SecretAccessKey"],
                          aws_session_token="another-sessions-token", region_name="us-east-1")
    refused(lambda: client(lab, wrong, "dynamodb").list_tables(), "UnrecognizedClientException")


def test_only_the_configured_administrator_key_is_the_administrator(lab):
    for key in ("admin", "AKIDEXAMPLE", "test2"):
        stranger = boto3.Session(aws_access_key_id=key, aws_secret_access_key="test",
                                 region_name="us-east-1")
        refused(lambda s=stranger: client(lab, s, "dynamodb").list_tables(),
                "UnrecognizedClientException")
        refused(lambda s=stranger: client(lab, s, "s3").list_buckets(), "InvalidAccessKeyId")
    impostor = boto3.Session(aws_access_key_id="test", aws_secret_access_key="not-the-secret",
                             region_name="us-east-1")
    refused(lambda: client(lab, impostor, "dynamodb").list_tables(), "InvalidSignatureException")


def test_unsigned_requests_to_aws_apis_are_denied(lab):
    anonymous = requests.get(f"{lab.settings.endpoint}/{lab.bucket}?list-type=2", timeout=10)
    assert anonymous.status_code == 403 and code_of(anonymous) == "AccessDenied"
    assert "tenant-b/secret.txt" not in anonymous.text
    unsigned = boto3.Session(region_name="us-east-1").client(
        "dynamodb", endpoint_url=lab.settings.endpoint, config=Config(signature_version=UNSIGNED))
    refused(lambda: unsigned.scan(TableName=lab.settings.name("orders")),
            "MissingAuthenticationTokenException")


def test_what_aws_serves_unsigned_still_works(lab):
    cognito = boto3.Session(region_name="us-east-1").client(
        "cognito-idp", endpoint_url=lab.settings.endpoint,
        config=Config(signature_version=UNSIGNED))
    user = lab.tenants[0].users[0]
    tokens = cognito.initiate_auth(ClientId=lab.identity.client_id, AuthFlow="USER_PASSWORD_AUTH",
                                   AuthParameters={"USERNAME": user, "PASSWORD": lab.password})
    assert tokens["AuthenticationResult"]["IdToken"]
    assert requests.get(lab.identity.jwks_url, timeout=10).json()["keys"]
    refused(lambda: cognito.list_users(UserPoolId=lab.identity.pool_id),
            "MissingAuthenticationTokenException")


def test_public_operations_need_no_permission_when_signed_either(lab, tenant):
    cognito = client(lab, tenant, "cognito-idp")
    user = lab.tenants[0].users[0]
    assert cognito.initiate_auth(ClientId=lab.identity.client_id, AuthFlow="USER_PASSWORD_AUTH",
                                 AuthParameters={"USERNAME": user, "PASSWORD": lab.password})
    refused(lambda: cognito.list_users(UserPoolId=lab.identity.pool_id), "AccessDeniedException")


def test_the_kits_own_endpoints_answer_only_the_administrator(lab, creds):
    for method, path in (("POST", "/moto-api/reset"), ("GET", "/_lab/audit"),
                         ("GET", "/moto-api/data.json"), ("POST", "/moto-api/seed")):
        for who in (None, signing(creds)):
            answer = send(lab, who, "s3", method, path)
            assert answer.status_code == 403, (method, path, answer.text)
    assert lab.client("s3").get_object(Bucket=lab.bucket, Key="tenant-b/secret.txt")
    assert lab.audit_mark() > 0
    health = requests.get(f"{lab.settings.endpoint}/_lab/health", timeout=10).json()
    assert health["service"] == "saas-lab-kit" and "ASIA" not in json.dumps(health)


# --- failing closed ---------------------------------------------------------------------------


@pytest.mark.parametrize("operation, payload", [
    ("GetItem", b"[]"),
    ("BatchGetItem", json.dumps({"RequestItems": ["not", "a", "map"]}).encode()),
    ("GetItem", b"{not json"),
    ("NoSuchOperation", b"{}"),
])
def test_what_the_gate_cannot_read_is_denied_not_forwarded(lab, creds, operation, payload):
    answer = dynamodb_request(lab, creds, operation, payload)
    assert answer.status_code in (400, 403) and code_of(answer) == "AccessDeniedException", \
        answer.text


def test_a_content_length_that_is_not_a_number_is_refused(lab):
    endpoint = urlparse(lab.settings.endpoint)
    connection = http.client.HTTPConnection(endpoint.hostname, endpoint.port, timeout=10)
    connection.putrequest("POST", "/")
    connection.putheader("Content-Length", "abc")
    connection.putheader("X-Amz-Target", f"{DYNAMODB_TARGET}.Scan")
    connection.endheaders()
    answer = connection.getresponse()
    assert answer.status == 400 and b"IncompleteSignature" in answer.read()


# --- expiry, with the gate's clock injected -----------------------------------------------------


def signed_environ(credentials: Credentials, url: str, when: str) -> tuple[dict, bytes]:
    body = b"{}"
    request = AWSRequest(method="POST", url=url, data=body,
                         headers={"X-Amz-Target": f"{DYNAMODB_TARGET}.ListTables"})
    request.context["timestamp"] = when
    auth = SigV4Auth(credentials, "dynamodb", "us-east-1")
    request.headers["X-Amz-Date"] = when
    request.headers["X-Amz-Security-Token"] = credentials.token
    canonical = auth.canonical_request(request)
    signature = auth.signature(auth.string_to_sign(request, canonical), request)
    request.headers["Authorization"] = (
        f"AWS4-HMAC-SHA256 Credential={credentials.access_key}/{when[:8]}/us-east-1/dynamodb/"
        f"aws4_request, SignedHeaders={auth.signed_headers(auth.headers_to_sign(request))}, "
        f"Signature={signature}")
    environ = {"REQUEST_METHOD": "POST", "PATH_INFO": "/", "QUERY_STRING": "",
               "RAW_URI": "/", "HTTP_HOST": urlparse(url).netloc, "CONTENT_LENGTH": "2",
               "wsgi.input": io.BytesIO(body)}
    for name, value in request.headers.items():
        environ["HTTP_" + name.upper().replace("-", "_")] = value
    return environ, body


SIGNED_AT = 1_795_478_400.0  # 20261124T000000Z, the date the requests below are signed with


def _gate_with_session(role: str, expires: float, now: list[float]):
    """An in-process gate on the clock ``now[0]``, a session of ``role`` it issued, and a request
    that session signed at SIGNED_AT."""
    from moto.iam.models import iam_backends

    key = iam_backends[ACCOUNT]["aws"].create_temp_access_key()
    key.role_arn = f"arn:aws:iam::{ACCOUNT}:role/{role}"
    gate = IamGate(lambda environ, start: [], clock=lambda: now[0])
    gate.sessions.record(Session(key.access_key_id, key.role_arn, "s", {}, frozenset(), None,
                                 expires=expires, token="token-1"))
    credentials = Credentials(key.access_key_id, key.secret_access_key, "token-1")
    environ, body = signed_environ(credentials, "http://127.0.0.1:4566/", "20261124T000000Z")
    return gate, environ, body


def test_an_expired_session_is_refused():
    now = [SIGNED_AT]
    gate, environ, body = _gate_with_session("expiring", SIGNED_AT + 600, now)
    assert gate.authenticate(environ, body, read_signature(environ)).kind == "session"
    now[0] = SIGNED_AT + 601
    with pytest.raises(AuthError) as raised:
        gate.authenticate(environ, body, read_signature(environ))
    assert raised.value.problem == "expired"


def test_a_signature_more_than_15_minutes_off_the_clock_is_refused():
    """AWS refuses a header-signed request whose X-Amz-Date is more than 15 minutes from its
    clock (S3: RequestTimeTooSkewed; others: "Signature expired")."""
    now = [SIGNED_AT + 899]
    gate, environ, body = _gate_with_session("skewed", SIGNED_AT + 7_200, now)
    assert gate.authenticate(environ, body, read_signature(environ)).kind == "session"
    for skewed in (SIGNED_AT + 901, SIGNED_AT - 901):
        now[0] = skewed
        with pytest.raises(AuthError) as raised:
            gate.authenticate(environ, body, read_signature(environ))
        assert raised.value.problem == "skewed" and "Signature expired" in raised.value.message


def test_a_table_named_by_its_arn_is_that_table(lab, tenant):
    """DynamoDB (and moto) accept a table's ARN as its name: it is the same resource."""
    dynamodb = client(lab, tenant, "dynamodb")
    arn = lab.table_arn("orders")
    refused(lambda: dynamodb.get_item(TableName=arn, Key=foreign_key(lab)["Key"]),
            "AccessDeniedException")
    refused(lambda: dynamodb.query(TableName=arn, KeyConditionExpression="pk = :b",
                                   ExpressionAttributeValues={":b": {"S": "TENANT#tenant-b"}}),
            "AccessDeniedException")
    refused(lambda: dynamodb.batch_get_item(RequestItems={arn: {"Keys": [
        foreign_key(lab)["Key"]]}}), "AccessDeniedException")
    own = dynamodb.query(TableName=arn, KeyConditionExpression="pk = :a",
                         ExpressionAttributeValues={":a": {"S": "TENANT#tenant-a"}})
    assert all(i["pk"]["S"] == "TENANT#tenant-a" for i in own["Items"])
    refused(lambda: dynamodb.get_item(TableName=arn.replace("us-east-1", "eu-west-1"),
                                      Key=foreign_key(lab)["Key"]), "AccessDeniedException")


def test_a_key_condition_is_read_as_moto_reads_it(lab, tenant):
    dynamodb = client(lab, tenant, "dynamodb")
    values = {":a": {"S": "TENANT#tenant-a"}, ":b": {"S": "TENANT#tenant-b"}}
    for expression in ("pk = :a AND pk = :b", "(pk = :a) AND pk = :b", "pk = :b"):
        refused(lambda e=expression: dynamodb.query(
            TableName=lab.settings.name("orders"), KeyConditionExpression=e,
            ExpressionAttributeValues={k: v for k, v in values.items() if k in e}),
            "AccessDeniedException")


def test_a_presigned_url_expires_by_the_gates_clock():
    from datetime import UTC, datetime

    from botocore.auth import S3SigV4QueryAuth

    from environment.emulator.iam.signing import verify

    request = AWSRequest(method="GET", url="http://127.0.0.1:4566/docs/tenant-a/x")
    S3SigV4QueryAuth(Credentials("ASIAKEY", "secret", "token"), "s3", "us-east-1",
                     expires=60).add_auth(request)
    path, _, query = request.url.split("127.0.0.1:4566", 1)[1].partition("?")
    environ = {"REQUEST_METHOD": "GET", "PATH_INFO": path, "QUERY_STRING": query,
               "RAW_URI": f"{path}?{query}", "HTTP_HOST": "127.0.0.1:4566"}
    signed = read_signature(environ)
    issued = datetime.strptime(signed.timestamp, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    verify(environ, b"", signed, "secret", issued.timestamp() + 59)
    with pytest.raises(AuthError) as raised:
        verify(environ, b"", signed, "secret", issued.timestamp() + 61)
    assert raised.value.message == "Request has expired"
    with pytest.raises(AuthError):
        verify(environ, b"", signed, "another secret", issued.timestamp())


def test_a_queue_is_the_queue_moto_resolves(lab, role):
    iam = lab.client("iam")
    iam.put_role_policy(RoleName="bypass-tenant", PolicyName="queues", PolicyDocument=policy({
        "Effect": "Allow", "Action": "sqs:SendMessage",
        "Resource": f"arn:aws:sqs:*:*:bypass-{TAG}"}))
    sqs = lab.client("sqs")
    own = sqs.create_queue(QueueName="bypass-tenant-a")["QueueUrl"]
    other = sqs.create_queue(QueueName="bypass-tenant-b")["QueueUrl"]
    creds = lab.client("sts").assume_role(
        RoleArn=role, RoleSessionName="queues",
        Tags=[{"Key": "TenantID", "Value": "tenant-a"}])["Credentials"]
    tenant_sqs = client(lab, lab.session(creds), "sqs")
    tenant_sqs.send_message(QueueUrl=own, MessageBody="mine")
    for disguised in (f"{own}?x=/bypass-tenant-b", other, "bypass-tenant-b"):
        refused(lambda q=disguised: tenant_sqs.send_message(QueueUrl=q, MessageBody="x"),
                "AccessDenied")
    assert "Messages" not in sqs.receive_message(QueueUrl=other, WaitTimeSeconds=0)


# --- Cognito's public operations: Cognito's own checks, which moto skips ---------------------


def unsigned_cognito(lab):
    return boto3.Session(region_name="us-east-1").client(
        "cognito-idp", endpoint_url=lab.settings.endpoint,
        config=Config(signature_version=UNSIGNED, retries={"max_attempts": 0}))


def fresh_access_token(lab, user: str) -> str:
    """A token of this emulator's life (the lab's cached tokens may predate a reset)."""
    return unsigned_cognito(lab).initiate_auth(
        ClientId=lab.identity.client_id, AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": user, "PASSWORD": lab.password})[
        "AuthenticationResult"]["AccessToken"]


def test_sign_up_cannot_write_an_attribute_outside_the_clients_write_attributes(lab):
    """AWS: an attribute not in the app client's WriteAttributes -> NotAuthorizedException."""
    cognito = unsigned_cognito(lab)
    user = "mallory-signup@tenant-a.example.com"
    refused(lambda: cognito.sign_up(
        ClientId=lab.identity.client_id, Username=user, Password=lab.password,
        UserAttributes=[{"Name": "email", "Value": user},
                        {"Name": "custom:tenant_id", "Value": "tenant-b"}]),
        "NotAuthorizedException")


def test_codes_the_emulator_never_sent_are_never_accepted(lab):
    """ConfirmSignUp, ConfirmForgotPassword, VerifyUserAttribute: CodeMismatchException."""
    cognito = unsigned_cognito(lab)
    cid, victim = lab.identity.client_id, lab.tenants[1].users[0]
    user = "mallory-confirm@tenant-a.example.com"
    cognito.sign_up(ClientId=cid, Username=user, Password=lab.password,
                    UserAttributes=[{"Name": "email", "Value": user}])
    refused(lambda: cognito.confirm_sign_up(ClientId=cid, Username=user,
                                            ConfirmationCode="000000"), "CodeMismatchException")
    refused(lambda: cognito.initiate_auth(
        ClientId=cid, AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": user, "PASSWORD": lab.password}),
        "UserNotConfirmedException")
    refused(lambda: cognito.confirm_forgot_password(
        ClientId=cid, Username=victim, ConfirmationCode="123456", Password="Taken-0ver!"),
        "CodeMismatchException")
    assert fresh_access_token(lab, victim)  # the victim's password still works
    token = fresh_access_token(lab, lab.tenants[0].users[0])
    refused(lambda: cognito.verify_user_attribute(AccessToken=token, AttributeName="email",
                                                  Code="000000"), "CodeMismatchException")


def test_update_user_attributes_respects_write_attributes_and_immutability(lab):
    """AWS refuses a write outside WriteAttributes and a change of an immutable attribute."""
    cognito = unsigned_cognito(lab)
    user = lab.tenants[0].users[0]
    token = fresh_access_token(lab, user)
    for name, value in (("custom:tenant_id", "tenant-b"), ("custom:tenant_tier", "platinum")):
        refused(lambda n=name, v=value: cognito.update_user_attributes(
            AccessToken=token, UserAttributes=[{"Name": n, "Value": v}]),
            "NotAuthorizedException")
    refused(lambda: cognito.delete_user_attributes(AccessToken=token,
                                                   UserAttributeNames=["custom:tenant_id"]),
            "NotAuthorizedException")
    attributes = {a["Name"]: a["Value"] for a in cognito.get_user(AccessToken=token)[
        "UserAttributes"]}
    assert attributes["custom:tenant_id"] == lab.tenants[0].id
    cognito.update_user_attributes(AccessToken=token,
                                   UserAttributes=[{"Name": "email", "Value": user}])


def test_sign_in_proofs_moto_does_not_verify_are_refused(lab):
    """SRP's password verifier and MFA codes are not checked by moto: the gate refuses them."""
    cognito = unsigned_cognito(lab)
    cid, victim = lab.identity.client_id, lab.tenants[1].users[0]
    refused(lambda: cognito.initiate_auth(ClientId=cid, AuthFlow="USER_SRP_AUTH",
                                          AuthParameters={"USERNAME": victim, "SRP_A": "1"}),
            "NotAuthorizedException")
    refused(lambda: cognito.respond_to_auth_challenge(
        ClientId=cid, ChallengeName="PASSWORD_VERIFIER",
        ChallengeResponses={"USERNAME": victim, "PASSWORD_CLAIM_SIGNATURE": "x",
                            "PASSWORD_CLAIM_SECRET_BLOCK": "x", "TIMESTAMP": "x"}),
        "CodeMismatchException")
    refused(lambda: cognito.respond_to_auth_challenge(
        ClientId=cid, ChallengeName="NEW_PASSWORD_REQUIRED", Session="not-a-session-of-this-user",
        ChallengeResponses={"USERNAME": victim, "NEW_PASSWORD": "Taken-0ver!"}),
        "NotAuthorizedException")


# --- S3: the listing's condition keys come from where moto reads them -------------------------


@pytest.mark.parametrize("body,content_type", [
    (b"prefix=tenant-a%2F", "application/x-www-form-urlencoded"),
    (b'--XX\r\nContent-Disposition: form-data; name="prefix"\r\n\r\ntenant-a/\r\n--XX--\r\n',
     "multipart/form-data; boundary=XX")])
def test_a_listing_prefix_in_a_body_is_not_the_listings_prefix(lab, creds, body, content_type):
    """moto lists by the URL's prefix: a body on a GET is refused, whatever it says."""
    for query in ("list-type=2", "prefix=tenant-b%2F", "list-type=2&prefix=tenant-a%2F"):
        answer = send(lab, signing(creds), "s3", "GET", f"/{lab.bucket}", query,
                      {"Content-Type": content_type}, body)
        assert answer.status_code == 403 and code_of(answer) == "AccessDenied", answer.text
        assert "tenant-b/" not in answer.text
    own = send(lab, signing(creds), "s3", "GET", f"/{lab.bucket}", "list-type=2&prefix=tenant-a%2F")
    assert own.status_code == 200 and "tenant-b/" not in own.text


def test_an_upload_id_belongs_to_one_object(lab, tenant):
    """AWS answers NoSuchUpload to an upload ID of another bucket+key; moto would write there."""
    admin, s3 = lab.client("s3"), client(lab, tenant, "s3")
    foreign = admin.create_multipart_upload(Bucket=lab.bucket, Key="tenant-b/big.bin")["UploadId"]
    target = {"Bucket": lab.bucket, "Key": "tenant-a/x.bin", "UploadId": foreign}
    refused(lambda: s3.upload_part(PartNumber=1, Body=b"x" * 10, **target), "NoSuchUpload")
    refused(lambda: s3.upload_part_copy(PartNumber=1, CopySource=f"{lab.bucket}/tenant-a/own.txt",
                                        **target), "NoSuchUpload")
    refused(lambda: s3.list_parts(**target), "NoSuchUpload")
    refused(lambda: s3.complete_multipart_upload(
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": '"x"'}]}, **target), "NoSuchUpload")
    refused(lambda: s3.abort_multipart_upload(**target), "NoSuchUpload")
    refused(lambda: s3.upload_part(PartNumber=1, Body=b"x", Bucket=lab.bucket,
                                   Key="tenant-a/x.bin", UploadId="no-such-upload"),
            "NoSuchUpload")
    assert foreign in [u["UploadId"] for u in admin.list_multipart_uploads(
        Bucket=lab.bucket).get("Uploads", [])]
    own = s3.create_multipart_upload(Bucket=lab.bucket, Key="tenant-a/x.bin")["UploadId"]
    part = s3.upload_part(Bucket=lab.bucket, Key="tenant-a/x.bin", UploadId=own, PartNumber=1,
                          Body=b"own")
    s3.complete_multipart_upload(Bucket=lab.bucket, Key="tenant-a/x.bin", UploadId=own,
                                 MultipartUpload={"Parts": [{"PartNumber": 1,
                                                             "ETag": part["ETag"]}]})
    admin.abort_multipart_upload(Bucket=lab.bucket, Key="tenant-b/big.bin", UploadId=foreign)


@pytest.mark.parametrize("query,action", [
    ("encryption&prefix=tenant-a%2F", "s3:GetEncryptionConfiguration"),
    ("object-lock&prefix=tenant-a%2F", "s3:GetBucketObjectLockConfiguration"),
    ("replication&prefix=tenant-a%2F", "s3:GetReplicationConfiguration"),
    ("ownershipControls&prefix=tenant-a%2F", "s3:GetBucketOwnershipControls"),
    ("publicAccessBlock&prefix=tenant-a%2F", "s3:GetBucketPublicAccessBlock"),
    ("inventory&prefix=tenant-a%2F", "s3:GetInventoryConfiguration"),
    ("requestPayment&prefix=tenant-a%2F", None), ("analytics&prefix=tenant-a%2F", None),
    ("metrics&prefix=tenant-a%2F", None), ("acl&policy", None)])
def test_a_bucket_subresource_is_its_own_action(lab, creds, query, action):
    """Named from the subresource (AWS's S3 action table); one the gate cannot name is refused
    (moto would list the bucket for it)."""
    answer = send(lab, signing(creds), "s3", "GET", f"/{lab.bucket}", query)
    assert answer.status_code == 403 and code_of(answer) == "AccessDenied", answer.text
    assert "<Contents>" not in answer.text
    if action:
        assert f"perform: {action} " in answer.text


@pytest.mark.parametrize("method,query,action", [
    ("GET", "legal-hold", "s3:GetObjectLegalHold"), ("GET", "attributes", "s3:GetObjectAttributes"),
    ("PUT", "retention", "s3:PutObjectRetention"), ("PUT", "legal-hold", "s3:PutObjectLegalHold"),
    ("GET", "retention", None), ("GET", "torrent", None),
    ("GET", "versionId=x", "s3:GetObjectVersion")])
def test_an_object_subresource_is_its_own_action(lab, creds, method, query, action):
    answer = send(lab, signing(creds), "s3", method, f"/{lab.bucket}/tenant-a/own.txt", query)
    assert answer.status_code == 403 and code_of(answer) == "AccessDenied", answer.text
    assert "tenant-a's own" not in answer.text
    if action:
        assert f"perform: {action} " in answer.text


def test_a_version_id_in_a_form_body_is_refused(lab, creds):
    """moto reads a DELETE's versionId through _get_param, which a form body feeds: refused."""
    answer = send(lab, signing(creds), "s3", "DELETE", f"/{lab.bucket}/tenant-a/own.txt", "",
                  {"Content-Type": "application/x-www-form-urlencoded"}, b"versionId=null")
    assert answer.status_code == 403 and code_of(answer) == "AccessDenied", answer.text
    assert lab.client("s3").get_object(Bucket=lab.bucket, Key="tenant-a/own.txt")


def test_an_acl_or_tags_on_a_write_need_their_own_actions(lab, tenant):
    """AWS's PutObject: x-amz-acl/x-amz-grant-* also need s3:PutObjectAcl, x-amz-tagging
    s3:PutObjectTagging (and so do CopyObject and CreateMultipartUpload)."""
    s3 = client(lab, tenant, "s3")
    where = {"Bucket": lab.bucket, "Key": "tenant-a/acl.txt"}
    assert "s3:PutObjectAcl" in refused(lambda: s3.put_object(Body=b"x", ACL="public-read",
                                                               **where), "AccessDenied")
    assert "s3:PutObjectAcl" in refused(lambda: s3.put_object(
        Body=b"x", GrantRead='uri="http://acs.amazonaws.com/groups/global/AllUsers"', **where),
        "AccessDenied")
    assert "s3:PutObjectTagging" in refused(lambda: s3.put_object(Body=b"x", Tagging="k=v",
                                                                   **where), "AccessDenied")
    assert "s3:PutObjectAcl" in refused(lambda: s3.copy_object(
        CopySource=f"{lab.bucket}/tenant-a/own.txt", ACL="public-read-write", **where),
        "AccessDenied")
    assert "s3:PutObjectAcl" in refused(lambda: s3.create_multipart_upload(
        ACL="public-read", **where), "AccessDenied")
    s3.put_object(Body=b"x", **where)


def test_refusals_say_what_is_wrong_not_what_broke(lab, creds):
    """Still refused, in plain words: no internal exception (KeyError, TypeError, IndexError)."""
    foreign = json.dumps(foreign_key(lab))
    answers = [
        send(lab, signing(creds), "dynamodb", "POST", "/", "", {
            "Content-Type": "application/x-www-form-urlencoded"},
            f"Action=GetItem&TableName={lab.settings.name('orders')}".encode()),
        send(lab, signing(creds), "sts", "GET", "/MOTO-API/data.json"),
        send(lab, signing(creds), "sts", "POST", "/", "Action=GetCallerIdentity&Action=AssumeRole",
             {"Content-Type": "application/x-www-form-urlencoded"}),
        send(lab, signing(creds), "dynamodb", "POST", "/", "", {
            "Content-Type": "application/x-amz-json-1.0", "X-Amz-Target": "GetItem"},
            foreign.encode()),
    ]
    for answer in answers:
        assert answer.status_code in (400, 403), answer.text
        assert "AccessDenied" in code_of(answer), answer.text
        for internal in ("KeyError", "TypeError", "IndexError", "HTTP_", "Error:"):
            assert internal not in answer.text, answer.text
        assert "refuse" in answer.text
    assert "X-Amz-Target" in answers[3].text and "more than once" in answers[2].text


def test_exercise_2_3_fails_a_table_built_without_the_session_token(lab):
    """On AWS a session's key and secret without its token are refused; so they are here.

    Last in this module: the solution notebook resets the account, ending earlier sessions.
    """
    from checks import run
    from checks.notebook_code import namespace, solution_path

    solution = namespace(solution_path(2))

    def tokenless_table(creds):
        return boto3.Session(aws_access_key_id=creds["AccessKeyId"],
                             aws_secret_access_key=creds["SecretAccessKey"]).resource(
            "dynamodb", endpoint_url=lab.settings.endpoint, region_name="us-east-1").Table(
            lab.settings.name("orders"))

    assert run("2.3", solution["vend_credentials"], solution["scoped_orders_table"]).passed
    outcome = run("2.3", solution["vend_credentials"], tokenless_table)
    assert not outcome.passed and "session token" in outcome.message, outcome.message
