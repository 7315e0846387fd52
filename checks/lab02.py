"""Checks of lab 2: tenant isolation enforced by the account, not the code."""

from __future__ import annotations

import json
from typing import Any

import boto3
from boto3.dynamodb.conditions import Key
from botocore.exceptions import ClientError

from environment.iam.calls import Call
from environment.iam.policy import Request, evaluate
from environment.iam.principals import Principal
from environment.iam.requests import authorizations
from environment.lab import Lab, current
from environment.tenants import TENANTS

from .forgery import forgeries
from .framework import Trial, exercise, short

ALICE, ARTHUR, BOB = TENANTS[0].users[0], TENANTS[0].users[1], TENANTS[1].users[0]


def _pk(value: str) -> dict[str, Any]:
    return {"pk": {"S": value}, "sk": {"S": "ORDER#1"}}


def _questions(lab: Lab, table: str, operation: str, **params: Any) -> list[Request]:
    call = Call("dynamodb", operation, "json", {"TableName": lab.settings.name(table), **params},
                lab.settings.region)
    return authorizations(call, lambda region, name, index: "pk")


def _decide(policy: Any, tags: dict[str, str], questions: list[Request]) -> tuple[bool, str]:
    """Would the gate allow every question, for a session with these tags under this policy?"""
    context = Principal("session", "arn:aws:sts::<account>:assumed-role/check/session",
                        tags=tags).context()
    for question in questions:
        decision = evaluate(Request(question.action, question.resource,
                                    {**context, **question.context}), [policy])
        if not decision.allowed:
            return False, decision.reason
    return True, "allowed"


@exercise(
    "2.1", "a tenant-scoped access policy", ("tenant_policy",),
    hint="Allow the item actions (GetItem, PutItem, UpdateItem, DeleteItem, Query) on the orders "
         "table ARN only, with Condition {'ForAllValues:StringLike': {'dynamodb:LeadingKeys': "
         "['TENANT#${aws:PrincipalTag/TenantID}', 'TENANT#${aws:PrincipalTag/TenantID}#*']}}.",
)
def check_tenant_policy(tenant_policy, t: Trial) -> None:
    lab = current()
    orders = lab.settings.name("orders")
    with t.case("tenant_policy returns a policy document"):
        policy = t.call(tenant_policy, lab.table_arn("orders"))
        t.expect(isinstance(policy, dict) and "Statement" in policy,
                 "a dict with Version and Statement", policy,
                 hint="return the policy as a Python dict; json.dumps happens when attaching it.")
    allowed = []
    for tenant in ("tenant-a", "tenant-c"):
        own = f"TENANT#{tenant}"
        allowed += [
            (tenant, f"GetItem on {own}", "GetItem", {"Key": _pk(own)}),
            (tenant, f"PutItem on {own}", "PutItem", {"Item": _pk(own)}),
            (tenant, f"UpdateItem on {own}", "UpdateItem", {"Key": _pk(own)}),
            (tenant, f"DeleteItem on {own}", "DeleteItem", {"Key": _pk(own)}),
            (tenant, f"Query on {own}", "Query", {
                "KeyConditionExpression": "pk = :p",
                "ExpressionAttributeValues": {":p": {"S": own}}}),
            (tenant, f"Query on its shard {own}#3 (lab 1's write sharding)", "Query", {
                "KeyConditionExpression": "pk = :p",
                "ExpressionAttributeValues": {":p": {"S": f"{own}#3"}}}),
        ]
    for tenant, name, operation, params in allowed:
        with t.case(f"{tenant} may {name}"):
            ok, reason = _decide(policy, {"TenantID": tenant},
                                 _questions(lab, "orders", operation, **params))
            t.expect(ok, "allowed", f"denied {reason}",
                     hint="use ${aws:PrincipalTag/TenantID} rather than a fixed tenant, and "
                          "allow the item actions on the orders table ARN.")
    denied = [
        ("Query on TENANT#tenant-b", "orders", "Query", {
            "KeyConditionExpression": "pk = :p",
            "ExpressionAttributeValues": {":p": {"S": "TENANT#tenant-b"}}},
         "the condition must compare dynamodb:LeadingKeys with the caller's own tag."),
        ("GetItem on the lookalike TENANT#tenant-aa", "orders", "GetItem",
         {"Key": _pk("TENANT#tenant-aa")},
         "'TENANT#${aws:PrincipalTag/TenantID}*' also matches tenant-aa: put the separator "
         "before the wildcard ('...TenantID}#*')."),
        ("Query on the lookalike's shard TENANT#tenant-aa#1", "orders", "Query", {
            "KeyConditionExpression": "pk = :p",
            "ExpressionAttributeValues": {":p": {"S": "TENANT#tenant-aa#1"}}},
         "put the separator before the wildcard: 'TENANT#${aws:PrincipalTag/TenantID}#*'."),
        ("PutItem into TENANT#tenant-b", "orders", "PutItem", {"Item": _pk("TENANT#tenant-b")},
         "PutItem's leading key is the item's partition key; the same condition covers it."),
        ("BatchWriteItem with one of its own items and one of tenant-b", "orders",
         "BatchWriteItem", {"RequestItems": {orders: [
             {"PutRequest": {"Item": _pk("TENANT#tenant-a")}},
             {"PutRequest": {"Item": _pk("TENANT#tenant-b")}}]}},
         "every item of a batch is checked on its own."),
        ("Scan of the whole table", "orders", "Scan", {},
         "a Scan has no leading keys, so ForAllValues is vacuously true: do not allow "
         "dynamodb:Scan (or dynamodb:*) in this statement."),
        ("Query on its own key in the products table", "products", "Query", {
            "KeyConditionExpression": "pk = :p",
            "ExpressionAttributeValues": {":p": {"S": "TENANT#tenant-a"}}},
         "set Resource to the orders table's ARN (the argument), not '*'."),
        ("DeleteTable on the orders table", "orders", "DeleteTable", {},
         "allow the item actions only, not dynamodb:*."),
    ]
    for name, table, operation, params, hint in denied:
        with t.case(f"tenant-a is denied {name}"):
            ok, _ = _decide(policy, {"TenantID": "tenant-a"},
                            _questions(lab, table, operation, **params))
            t.expect(not ok, "denied", "allowed", hint=hint)
    with t.case("a session without a TenantID tag is denied its 'own' TENANT# partition"):
        ok, _ = _decide(policy, {}, _questions(lab, "orders", "Query", **{
            "KeyConditionExpression": "pk = :p",
            "ExpressionAttributeValues": {":p": {"S": "TENANT#"}}}))
        t.expect(not ok, "denied", "allowed",
                 hint="a missing tag makes ${aws:PrincipalTag/TenantID} match nothing, unless "
                      "the pattern matches without it (a bare '*'?).")


def _tagged_session(lab: Lab, access_key_id: str) -> dict[str, Any] | None:
    """The AssumeRole event that issued this access key, from the gate's audit trail."""
    return next((e for e in lab.audit(action="sts:AssumeRole")
                 if e.get("access_key_id") == access_key_id and e["decision"] == "allow"), None)


@exercise(
    "2.2", "a token vending machine", ("vend_credentials",),
    hint="verify the token (verify_id_token), then sts.assume_role(RoleArn=TENANT_ROLE_ARN, "
         "RoleSessionName=..., Tags=[{'Key': 'TenantID', 'Value': tenant}]) and keep "
         "response['Credentials'] in a dict keyed by tenant until 5 minutes before Expiration.",
)
def check_token_vendor(vend_credentials, t: Trial) -> None:
    lab = current()
    mark = lab.audit_mark()
    issued: dict[str, str] = {}
    for user, tenant in ((ALICE, "tenant-a"), (ALICE, "tenant-a"), (ARTHUR, "tenant-a"),
                         (BOB, "tenant-b")):
        with t.case(f"credentials for {user}"):
            creds = t.call(vend_credentials, lab.id_token(user))
            t.expect(isinstance(creds, dict) and {"AccessKeyId", "SecretAccessKey",
                                                  "SessionToken"} <= set(creds),
                     "STS Credentials: AccessKeyId, SecretAccessKey, SessionToken, Expiration",
                     creds, hint="return response['Credentials'] of assume_role.")
            event = _tagged_session(lab, creds["AccessKeyId"])
            t.expect(event is not None, "credentials issued by AssumeRole in this environment",
                     f"unknown access key {creds['AccessKeyId']}",
                     hint="credentials cached from before a reset are void: re-run the cell "
                          "that defines vend_credentials (it empties the cache).")
            t.expect(event["resource"] == lab.role_arn("tenant-access"),
                     f"a session of {lab.role_arn('tenant-access')}", event["resource"])
            t.expect(event.get("session_tags", {}).get("TenantID") == tenant,
                     f"a session tagged TenantID={tenant}", event.get("session_tags"),
                     hint="the tenant comes from the verified token's custom:tenant_id.")
            if tenant in issued:
                t.expect(issued[tenant] == creds["AccessKeyId"],
                         f"the cached credentials of {tenant}", "new credentials",
                         hint="keep one set of credentials per tenant until shortly before "
                              "they expire; STS calls are slow and rate limited.")
            issued[tenant] = creds["AccessKeyId"]
    with t.case("STS was called at most once per tenant"):
        calls = [e for e in lab.audit(since=mark, action="sts:AssumeRole")
                 if e["decision"] == "allow"]
        per_tenant: dict[str, int] = {}
        for event in calls:
            tag = (event.get("session_tags") or {}).get("TenantID", "?")
            per_tenant[tag] = per_tenant.get(tag, 0) + 1
        t.expect(all(n <= 1 for n in per_tenant.values()), "one AssumeRole per tenant",
                 f"AssumeRole calls per tenant: {per_tenant}")
    forged, _ = forgeries(lab.id_token(ALICE), lab.access_token(ALICE), "tenant-b",
                          lab.settings.embedded)
    for forgery in forged[:7]:
        with t.case(f"refuses {forgery.name}"):
            before = lab.audit_mark()
            t.rejects(vend_credentials, forgery.token, accept=(Exception,), hint=forgery.hint)
            sts_calls = lab.audit(since=before, action="sts:AssumeRole")
            t.expect(not sts_calls, "no call to STS", f"{len(sts_calls)} AssumeRole call(s)",
                     hint="verify the token before anything else.")


def _session(creds: dict[str, Any]) -> boto3.Session:
    return boto3.Session(aws_access_key_id=creds["AccessKeyId"],
                         aws_secret_access_key=creds["SecretAccessKey"],
                         aws_session_token=creds["SessionToken"])


def _denied(call) -> str | None:
    """None when the call was denied by the account; otherwise what happened."""
    try:
        call()
    except ClientError as error:
        code = error.response["Error"]["Code"]
        return None if code in ("AccessDeniedException", "AccessDenied") else code
    return "allowed"


@exercise(
    "2.3", "no leaks across tenants (N x N)", ("vend_credentials", "scoped_orders_table"),
    hint="build the table from the vended credentials: boto3.Session(aws_access_key_id=..., "
         "aws_secret_access_key=..., aws_session_token=...).resource('dynamodb', "
         "endpoint_url=lab.settings.endpoint, region_name=...).Table(orders table name).",
)
def check_isolation_matrix(vend_credentials, scoped_orders_table, t: Trial) -> None:
    lab = current()
    tenants = [tenant.id for tenant in TENANTS]
    leaks: list[str] = []
    tables = {}
    for tenant in TENANTS:
        with t.case(f"{tenant.id} reaches its own partition with scoped credentials"):
            creds = t.call(vend_credentials, lab.id_token(tenant.users[0]))
            table = t.call(scoped_orders_table, creds)
            t.expect(getattr(table, "name", None) == lab.settings.name("orders"),
                     f"a boto3 Table named {lab.settings.name('orders')}", short(table))
            key = {"pk": f"TENANT#{tenant.id}", "sk": "ORDER#isolation-check"}
            try:
                table.put_item(Item=key)
                table.query(KeyConditionExpression=Key("pk").eq(key["pk"]))
            except ClientError as error:
                t.expect(False, "its own partition allowed", error.response["Error"]["Message"],
                         hint="did you attach your 2.1 policy to the tenant role (the cell "
                              "after the 2.1 check)?")
            tables[tenant.id] = table
    for reader in tenants:
        for owner in tenants:
            if reader == owner:
                continue
            table = tables[reader]
            for verb, attempt in (
                ("read", lambda table=table, owner=owner: table.query(
                    KeyConditionExpression=Key("pk").eq(f"TENANT#{owner}"))),
                ("write", lambda table=table, owner=owner: table.put_item(
                    Item={"pk": f"TENANT#{owner}", "sk": "ORDER#planted"}))):
                outcome = _denied(attempt)
                if outcome is not None:
                    leaks.append(f"{reader} could {verb} {owner}'s orders ({outcome})")
        if _denied(tables[reader].scan) is not None:
            leaks.append(f"{reader} could Scan every tenant's orders")
    with t.case(f"{len(tenants)} x {len(tenants)} cross-tenant reads, writes and scans"):
        t.expect(not leaks, "0 leaks", f"{len(leaks)} leak(s): " + "; ".join(leaks[:3]),
                 hint="the table must use the vended credentials, not lab.table() (which "
                      "signs as the administrator).")


@exercise(
    "2.4", "a session policy per tenant (S3 prefix)", ("session_policy",),
    hint="Allow s3:GetObject and s3:PutObject on arn:aws:s3:::<bucket>/<tenant>/* and "
         "s3:ListBucket on arn:aws:s3:::<bucket> with Condition {'StringLike': "
         "{'s3:prefix': '<tenant>/*'}}. Nothing else: the role's broad rights are cut to this.",
)
def check_session_policy(session_policy, t: Trial) -> None:
    lab = current()
    bucket = lab.bucket
    s3_admin = lab.client("s3")
    s3_admin.put_object(Bucket=bucket, Key="tenant-b/contract.txt", Body=b"tenant-b's")
    s3_admin.put_object(Bucket=bucket, Key="tenant-aa/contract.txt", Body=b"tenant-aa's")
    sessions: dict[str, boto3.Session] = {}
    for tenant in ("tenant-a", "tenant-b"):
        with t.case(f"session_policy({tenant!r}, bucket) as a session policy"):
            policy = t.call(session_policy, tenant, bucket)
            t.expect(isinstance(policy, dict) and "Statement" in policy,
                     "a policy document (dict)", policy)
            try:
                creds = lab.client("sts").assume_role(
                    RoleArn=lab.role_arn("order-service"), RoleSessionName=f"docs-{tenant}",
                    Policy=json.dumps(policy))["Credentials"]
            except ClientError as error:
                t.expect(False, "AssumeRole accepts the policy", str(error))
            sessions[tenant] = _session(creds)
    clients = {tenant: session.client("s3", endpoint_url=lab.settings.endpoint,
                                      region_name=lab.settings.region)
               for tenant, session in sessions.items()}
    s3 = clients["tenant-a"]
    orders = sessions["tenant-a"].resource("dynamodb", endpoint_url=lab.settings.endpoint,
                                           region_name=lab.settings.region
                                           ).Table(lab.settings.name("orders"))
    allowed = [
        ("tenant-a writes tenant-a/report.txt",
         lambda: s3.put_object(Bucket=bucket, Key="tenant-a/report.txt", Body=b"a")),
        ("tenant-a reads tenant-a/report.txt",
         lambda: s3.get_object(Bucket=bucket, Key="tenant-a/report.txt")),
        ("tenant-a lists the prefix tenant-a/",
         lambda: s3.list_objects_v2(Bucket=bucket, Prefix="tenant-a/")),
        ("tenant-b writes tenant-b/report.txt", lambda: clients["tenant-b"].put_object(
            Bucket=bucket, Key="tenant-b/report.txt", Body=b"b")),
    ]
    for name, attempt in allowed:
        with t.case(name):
            t.expect(_denied(attempt) == "allowed", "allowed", "denied",
                     hint="allow the object actions on <bucket>/<tenant>/* and ListBucket "
                          "on the bucket.")
    denied = [
        ("tenant-a reads tenant-b/contract.txt",
         lambda: s3.get_object(Bucket=bucket, Key="tenant-b/contract.txt"), ""),
        ("tenant-a writes tenant-b/planted.txt",
         lambda: s3.put_object(Bucket=bucket, Key="tenant-b/planted.txt", Body=b"x"), ""),
        ("tenant-a reads the lookalike tenant-aa/contract.txt",
         lambda: s3.get_object(Bucket=bucket, Key="tenant-aa/contract.txt"),
         "end the prefix with a slash: <tenant>/*, not <tenant>*."),
        ("tenant-a lists the prefix tenant-b/",
         lambda: s3.list_objects_v2(Bucket=bucket, Prefix="tenant-b/"),
         "ListBucket needs a condition on s3:prefix."),
        ("tenant-a lists the whole bucket",
         lambda: s3.list_objects_v2(Bucket=bucket),
         "without a prefix the listing shows every tenant's keys: require s3:prefix."),
        ("tenant-a's session reads DynamoDB (the role could)",
         lambda: orders.query(KeyConditionExpression=Key("pk").eq("TENANT#tenant-b")),
         "a session policy should name only what the session needs."),
    ]
    for name, attempt, hint in denied:
        with t.case(name):
            t.expect(_denied(attempt) is None, "AccessDenied", "allowed",
                     hint=hint or "scope the object ARN to <bucket>/<tenant>/*.")
