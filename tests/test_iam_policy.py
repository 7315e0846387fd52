"""The gate's policy decisions, pinned case by case.

Each row is one documented rule of AWS's policy evaluation logic (or one of
its classic traps): policies, an optional session policy, the request, and the
expected decision. Rows read as sentences in the test ids.
"""

from __future__ import annotations

import json

import pytest

from environment.emulator.iam.policy import Request, evaluate, trust_allows

ACCOUNT = "123456789012"
ORDERS = f"arn:aws:dynamodb:us-east-1:{ACCOUNT}:table/saas-lab-orders"
PRODUCTS = f"arn:aws:dynamodb:us-east-1:{ACCOUNT}:table/saas-lab-products"
BUCKET = "arn:aws:s3:::saas-lab-documents"
TAG = "${aws:PrincipalTag/TenantID}"


def allow(action="*", resource="*", condition=None, effect="Allow", **extra):
    statement = {"Effect": effect, "Action": action, "Resource": resource, **extra}
    if condition:
        statement["Condition"] = condition
    if "NotAction" in extra:
        statement.pop("Action")
    if "NotResource" in extra:
        statement.pop("Resource")
    return {"Version": "2012-10-17", "Statement": [statement]}


def deny(action="*", resource="*", condition=None, **extra):
    return allow(action, resource, condition, effect="Deny", **extra)


def leading(*keys):
    return {"dynamodb:LeadingKeys": list(keys)}


def tenant(tenant_id, **more):
    return {"aws:PrincipalTag/TenantID": tenant_id, **more}


LEADING_POLICY = allow(["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query"], ORDERS,
                       {"ForAllValues:StringEquals": {"dynamodb:LeadingKeys": [f"TENANT#{TAG}"]}})

CASES = [
    # (id, identity policies, session policies or None, action, resource, context, allowed)
    ("exact action and resource allow", [allow("dynamodb:GetItem", ORDERS)], None,
     "dynamodb:GetItem", ORDERS, {}, True),
    ("no statement means implicit deny", [], None, "dynamodb:GetItem", ORDERS, {}, False),
    ("a policy for another action does not allow", [allow("dynamodb:Query", ORDERS)], None,
     "dynamodb:GetItem", ORDERS, {}, False),
    ("service wildcard action", [allow("dynamodb:*", ORDERS)], None, "dynamodb:Scan", ORDERS,
     {}, True),
    ("prefix wildcard action matches", [allow("dynamodb:Get*", ORDERS)], None,
     "dynamodb:GetItem", ORDERS, {}, True),
    ("prefix wildcard action does not match others", [allow("dynamodb:Get*", ORDERS)], None,
     "dynamodb:Query", ORDERS, {}, False),
    ("action names are case-insensitive", [allow("DynamoDB:getitem", ORDERS)], None,
     "dynamodb:GetItem", ORDERS, {}, True),
    ("action list", [allow(["sqs:SendMessage", "dynamodb:Query"], "*")], None,
     "dynamodb:Query", ORDERS, {}, True),
    ("star resource", [allow("dynamodb:Query", "*")], None, "dynamodb:Query", ORDERS, {}, True),
    ("resource wildcard over tables", [allow("dynamodb:Query", "arn:aws:dynamodb:*:*:table/*")],
     None, "dynamodb:Query", PRODUCTS, {}, True),
    ("another table is not allowed", [allow("dynamodb:Query", ORDERS)], None, "dynamodb:Query",
     PRODUCTS, {}, False),
    ("a table ARN does not cover its indexes", [allow("dynamodb:Query", ORDERS)], None,
     "dynamodb:Query", ORDERS + "/index/by-status", {}, False),
    ("index wildcard covers indexes", [allow("dynamodb:Query", ORDERS + "/index/*")], None,
     "dynamodb:Query", ORDERS + "/index/by-status", {}, True),
    ("resource ARNs are case-sensitive", [allow("dynamodb:Query", ORDERS.upper())], None,
     "dynamodb:Query", ORDERS, {}, False),
    ("question mark matches one character", [allow("s3:GetObject", BUCKET + "/tenant-?/*")],
     None, "s3:GetObject", BUCKET + "/tenant-a/doc.txt", {}, True),
    ("question mark does not match two", [allow("s3:GetObject", BUCKET + "/tenant-?/*")], None,
     "s3:GetObject", BUCKET + "/tenant-aa/doc.txt", {}, False),
    ("explicit deny beats allow in the same policy",
     [{"Statement": allow("dynamodb:*", ORDERS)["Statement"]
       + deny("dynamodb:DeleteItem", ORDERS)["Statement"]}], None, "dynamodb:DeleteItem",
     ORDERS, {}, False),
    ("explicit deny in another policy beats allow",
     [allow("*", "*"), deny("dynamodb:Scan", "*")], None, "dynamodb:Scan", ORDERS, {}, False),
    ("deny of another action leaves the allow", [allow("*", "*"), deny("dynamodb:Scan", "*")],
     None, "dynamodb:Query", ORDERS, {}, True),
    ("NotAction allows everything else", [allow(NotAction="iam:*")], None, "dynamodb:Query",
     ORDERS, {}, True),
    ("NotAction does not allow what it names", [allow(NotAction="iam:*")], None,
     "iam:CreateUser", "*", {}, False),
    ("NotResource deny spares the named resource",
     [allow("dynamodb:*", "*"), deny("dynamodb:*", NotResource=ORDERS)], None,
     "dynamodb:Query", ORDERS, {}, True),
    ("NotResource deny hits every other resource",
     [allow("dynamodb:*", "*"), deny("dynamodb:*", NotResource=ORDERS)], None,
     "dynamodb:Query", PRODUCTS, {}, False),
    ("StringEquals matches", [allow(condition={"StringEquals": {"aws:RequestedRegion":
                                                                "us-east-1"}})], None,
     "sqs:SendMessage", "*", {"aws:RequestedRegion": "us-east-1"}, True),
    ("StringEquals is case-sensitive", [allow(condition={"StringEquals": {
        "aws:PrincipalTag/Team": "Blue"}})], None, "sqs:SendMessage", "*",
     {"aws:PrincipalTag/Team": "blue"}, False),
    ("StringEqualsIgnoreCase ignores case", [allow(condition={"StringEqualsIgnoreCase": {
        "aws:PrincipalTag/Team": "Blue"}})], None, "sqs:SendMessage", "*",
     {"aws:PrincipalTag/Team": "blue"}, True),
    ("condition key names are case-insensitive", [allow(condition={"StringEquals": {
        "AWS:PRINCIPALTAG/team": "blue"}})], None, "sqs:SendMessage", "*",
     {"aws:PrincipalTag/Team": "blue"}, True),
    ("StringNotEquals with another value holds", [allow(condition={"StringNotEquals": {
        "aws:PrincipalTag/Team": "red"}})], None, "s3:GetObject", "*",
     {"aws:PrincipalTag/Team": "blue"}, True),
    ("StringNotEquals with the value fails", [allow(condition={"StringNotEquals": {
        "aws:PrincipalTag/Team": "red"}})], None, "s3:GetObject", "*",
     {"aws:PrincipalTag/Team": "red"}, False),
    ("a missing key makes StringEquals false", [allow(condition={"StringEquals": {
        "aws:PrincipalTag/Team": "blue"}})], None, "s3:GetObject", "*", {}, False),
    ("a missing key makes StringNotEquals true", [allow(condition={"StringNotEquals": {
        "aws:PrincipalTag/Team": "red"}})], None, "s3:GetObject", "*", {}, True),
    ("a missing key makes StringNotLike true", [allow(condition={"StringNotLike": {
        "s3:prefix": "private/*"}})], None, "s3:ListBucket", BUCKET, {}, True),
    ("IfExists holds when the key is missing", [allow(condition={"StringEqualsIfExists": {
        "aws:PrincipalTag/Team": "blue"}})], None, "s3:GetObject", "*", {}, True),
    ("IfExists still compares a present key", [allow(condition={"StringEqualsIfExists": {
        "aws:PrincipalTag/Team": "blue"}})], None, "s3:GetObject", "*",
     {"aws:PrincipalTag/Team": "red"}, False),
    ("StringLike wildcard", [allow("s3:ListBucket", BUCKET, {"StringLike": {
        "s3:prefix": "tenant-a/*"}})], None, "s3:ListBucket", BUCKET,
     {"s3:prefix": "tenant-a/invoices/"}, True),
    ("values of one key are ORed", [allow("s3:ListBucket", BUCKET, {"StringLike": {
        "s3:prefix": ["tenant-a/*", "shared/*"]}})], None, "s3:ListBucket", BUCKET,
     {"s3:prefix": "shared/x"}, True),
    ("keys of one operator are ANDed", [allow(condition={"StringEquals": {
        "aws:PrincipalTag/Team": "blue", "aws:PrincipalTag/Level": "admin"}})], None,
     "s3:GetObject", "*", {"aws:PrincipalTag/Team": "blue", "aws:PrincipalTag/Level": "user"},
     False),
    ("operators of one block are ANDed", [allow(condition={
        "StringEquals": {"aws:PrincipalTag/Team": "blue"},
        "Bool": {"aws:SecureTransport": "true"}})], None, "s3:GetObject", "*",
     {"aws:PrincipalTag/Team": "blue", "aws:SecureTransport": False}, False),
    ("Null true holds when the key is missing", [allow(condition={"Null": {
        "aws:PrincipalTag/TenantID": "true"}})], None, "s3:GetObject", "*", {}, True),
    ("Null false holds when the key is present", [allow(condition={"Null": {
        "aws:PrincipalTag/TenantID": "false"}})], None, "s3:GetObject", "*",
     tenant("tenant-a"), True),
    ("Null false fails when the key is missing", [allow(condition={"Null": {
        "aws:PrincipalTag/TenantID": "false"}})], None, "s3:GetObject", "*", {}, False),
    ("Bool compares true and false", [allow("*", "*"), deny(condition={"Bool": {
        "aws:SecureTransport": "false"}})], None, "s3:GetObject", "*",
     {"aws:SecureTransport": False}, False),
    ("NumericLessThanEquals", [allow(condition={"NumericLessThanEquals": {
        "s3:max-keys": "10"}})], None, "s3:ListBucket", BUCKET, {"s3:max-keys": "5"}, True),
    ("a Query allow does not cover BatchGetItem", [allow(
        "dynamodb:Query", ORDERS, {"ForAllValues:StringEquals": leading("TENANT#tenant-a")})],
     None, "dynamodb:BatchGetItem", ORDERS, leading("TENANT#tenant-a"), False),
    ("ForAllValues: every leading key matches", [allow(
        "dynamodb:BatchGetItem", ORDERS, {"ForAllValues:StringEquals": leading("TENANT#tenant-a",
                                                                               "TENANT#shared")})],
     None, "dynamodb:BatchGetItem", ORDERS, leading("TENANT#tenant-a", "TENANT#shared"), True),
    ("ForAllValues: one foreign leading key fails", [allow(
        "dynamodb:BatchGetItem", ORDERS,
        {"ForAllValues:StringEquals": leading("TENANT#tenant-a")})],
     None, "dynamodb:BatchGetItem", ORDERS, leading("TENANT#tenant-a", "TENANT#tenant-b"), False),
    ("trap: ForAllValues on a Scan (no LeadingKeys) is true", [allow(
        "dynamodb:*", ORDERS, {"ForAllValues:StringEquals": leading("TENANT#tenant-a")})], None,
     "dynamodb:Scan", ORDERS, {}, True),
    ("ForAllValues on an empty set is true", [allow(
        "dynamodb:*", ORDERS, {"ForAllValues:StringEquals": leading("TENANT#tenant-a")})], None,
     "dynamodb:Query", ORDERS, {"dynamodb:LeadingKeys": []}, True),
    ("a Null guard closes the Scan trap", [allow(
        "dynamodb:*", ORDERS, {"ForAllValues:StringEquals": leading("TENANT#tenant-a"),
                               "Null": {"dynamodb:LeadingKeys": "false"}})], None,
     "dynamodb:Scan", ORDERS, {}, False),
    ("ForAnyValue holds when one value matches", [allow(condition={
        "ForAnyValue:StringEquals": {"aws:TagKeys": ["TenantID"]}})], None,
     "sts:TagSession", "*", {"aws:TagKeys": ["Team", "TenantID"]}, True),
    ("ForAnyValue on a missing key is false", [allow(condition={
        "ForAnyValue:StringEquals": {"aws:TagKeys": ["TenantID"]}})], None,
     "sts:TagSession", "*", {}, False),
    ("ForAllValues:StringNotLike holds when no value is like", [allow(condition={
        "ForAllValues:StringNotLike": {"aws:TagKeys": ["aws:*"]}})], None,
     "sts:TagSession", "*", {"aws:TagKeys": ["TenantID"]}, True),
    ("tag variable: own partition allowed", [LEADING_POLICY], None, "dynamodb:Query", ORDERS,
     {**tenant("tenant-a"), **leading("TENANT#tenant-a")}, True),
    ("tag variable: another tenant's partition denied", [LEADING_POLICY], None,
     "dynamodb:Query", ORDERS, {**tenant("tenant-a"), **leading("TENANT#tenant-b")}, False),
    ("tag variable: a missing tag matches nothing", [LEADING_POLICY], None, "dynamodb:GetItem",
     ORDERS, leading("TENANT#"), False),
    ("tag variable: a missing tag does not match an empty substitution", [allow(
        "dynamodb:Query", ORDERS, {"StringEquals": {"dynamodb:LeadingKeys": f"TENANT#{TAG}"}})],
     None, "dynamodb:Query", ORDERS, leading("TENANT#"), False),
    ("trap: an action the policy does not name stays denied (Scan)", [LEADING_POLICY], None,
     "dynamodb:Scan", ORDERS, tenant("tenant-a"), False),
    ("tag keys in variables are case-insensitive", [allow(
        "dynamodb:Query", ORDERS, {"ForAllValues:StringEquals": leading(
            "TENANT#${aws:principaltag/tenantid}")})], None, "dynamodb:Query", ORDERS,
     {**tenant("tenant-a"), **leading("TENANT#tenant-a")}, True),
    ("tag values are case-sensitive", [LEADING_POLICY], None, "dynamodb:Query", ORDERS,
     {**tenant("Tenant-A"), **leading("TENANT#tenant-a")}, False),
    ("a star inside a tag value is literal", [allow(
        "dynamodb:Query", ORDERS, {"ForAllValues:StringLike": leading(f"TENANT#{TAG}")})],
     None, "dynamodb:Query", ORDERS, {**tenant("*"), **leading("TENANT#tenant-b")}, False),
    ("trap: a trailing star lets a lookalike tenant in", [allow(
        "dynamodb:Query", ORDERS, {"ForAllValues:StringLike": leading(f"TENANT#{TAG}*")})],
     None, "dynamodb:Query", ORDERS, {**tenant("tenant-a"), **leading("TENANT#tenant-aa")},
     True),
    ("a separator before the star keeps lookalikes out", [allow(
        "dynamodb:Query", ORDERS, {"ForAllValues:StringLike": leading(
            f"TENANT#{TAG}", f"TENANT#{TAG}#*")})], None, "dynamodb:Query", ORDERS,
     {**tenant("tenant-a"), **leading("TENANT#tenant-aa#3")}, False),
    ("a separator before the star admits own shards", [allow(
        "dynamodb:Query", ORDERS, {"ForAllValues:StringLike": leading(
            f"TENANT#{TAG}", f"TENANT#{TAG}#*")})], None, "dynamodb:Query", ORDERS,
     {**tenant("tenant-a"), **leading("TENANT#tenant-a#3")}, True),
    ("variable in a resource: own prefix", [allow("s3:GetObject", f"{BUCKET}/{TAG}/*")], None,
     "s3:GetObject", f"{BUCKET}/tenant-a/report.pdf", tenant("tenant-a"), True),
    ("variable in a resource: another prefix", [allow("s3:GetObject", f"{BUCKET}/{TAG}/*")],
     None, "s3:GetObject", f"{BUCKET}/tenant-b/report.pdf", tenant("tenant-a"), False),
    ("variable in a resource with a missing tag", [allow("s3:GetObject", f"{BUCKET}/{TAG}/*")],
     None, "s3:GetObject", f"{BUCKET}//report.pdf", {}, False),
    ("aws:username in a resource", [allow("iam:ChangePassword",
                                          f"arn:aws:iam::{ACCOUNT}:user/${{aws:username}}")],
     None, "iam:ChangePassword", f"arn:aws:iam::{ACCOUNT}:user/alice", {"aws:username": "alice"},
     True),
    ("aws:userid in a condition", [allow(condition={"StringLike": {
        "s3:prefix": "home/${aws:userid}/*"}})], None, "s3:ListBucket", BUCKET,
     {"aws:userid": "AROAEXAMPLE:tenant-a", "s3:prefix": "home/AROAEXAMPLE:tenant-a/x"}, True),
    ("aws:PrincipalAccount in a resource", [allow(
        "sqs:SendMessage", "arn:aws:sqs:us-east-1:${aws:PrincipalAccount}:*")], None,
     "sqs:SendMessage", f"arn:aws:sqs:us-east-1:{ACCOUNT}:orders",
     {"aws:PrincipalAccount": ACCOUNT}, True),
    ("a variable default applies when the key is missing", [allow(
        "s3:GetObject", f"{BUCKET}/${{aws:PrincipalTag/TenantID, 'shared'}}/*")], None,
     "s3:GetObject", f"{BUCKET}/shared/terms.pdf", {}, True),
    ("the ${*} escape is a literal star", [allow(condition={"StringLike": {
        "s3:prefix": "a${*}b"}})], None, "s3:ListBucket", BUCKET, {"s3:prefix": "axxb"}, False),
    ("session policy narrower than the role wins", [allow("dynamodb:*", ORDERS)],
     [allow("dynamodb:Query", ORDERS)], "dynamodb:PutItem", ORDERS, {}, False),
    ("session policy and role both allow", [allow("dynamodb:*", ORDERS)],
     [allow("dynamodb:Query", ORDERS)], "dynamodb:Query", ORDERS, {}, True),
    ("session policy cannot grant what the role lacks", [allow("dynamodb:Query", ORDERS)],
     [allow("*", "*")], "dynamodb:PutItem", ORDERS, {}, False),
    ("explicit deny in a session policy wins", [allow("*", "*")],
     [allow("*", "*"), deny("dynamodb:DeleteItem", "*")], "dynamodb:DeleteItem", ORDERS, {},
     False),
    ("explicit deny in the role beats a session allow", [allow("*", "*"), deny("s3:*", "*")],
     [allow("*", "*")], "s3:GetObject", BUCKET + "/x", {}, False),
    ("an empty session policy allows nothing", [allow("*", "*")], [{"Statement": []}],
     "dynamodb:Query", ORDERS, {}, False),
    ("a session policy with the tenant's prefix", [allow("s3:*", "*")],
     [allow("s3:GetObject", f"{BUCKET}/tenant-a/*")], "s3:GetObject", f"{BUCKET}/tenant-b/x", {},
     False),
    ("a single statement object instead of a list",
     [{"Version": "2012-10-17", "Statement": allow("sqs:*", "*")["Statement"][0]}], None,
     "sqs:SendMessage", "*", {}, True),
    ("a policy given as JSON text", [json.dumps(allow("sqs:*", "*"))], None, "sqs:SendMessage",
     "*", {}, True),
]


def version(policy: dict, value: str | None) -> dict:
    """The same policy with another Version line (None: without one)."""
    policy = {k: v for k, v in policy.items() if k != "Version"}
    return policy if value is None else {"Version": value, **policy}


ROLE = f"arn:aws:iam::{ACCOUNT}:role/tenant-a"
TOPIC = f"arn:aws:sns:us-east-1:{ACCOUNT}:orders"
OWN_PREFIX = allow("s3:GetObject", f"{BUCKET}/{TAG}/*")

# From AWS's documentation: IAM JSON policy elements (Condition operators, Version, NotAction,
# NotResource), policy variables, multivalued context keys, and session policies.
CASES += [
    ("ArnLike: a star within one segment", [allow(condition={"ArnLike": {
        "aws:SourceArn": f"arn:aws:sns:*:{ACCOUNT}:*"}})], None, "sqs:SendMessage", "*",
     {"aws:SourceArn": TOPIC}, True),
    ("ArnLike: another account's ARN does not match", [allow(condition={"ArnLike": {
        "aws:SourceArn": f"arn:aws:sns:*:{ACCOUNT}:*"}})], None, "sqs:SendMessage", "*",
     {"aws:SourceArn": "arn:aws:sns:us-east-1:999999999999:orders"}, False),
    ("ArnLike: a star does not cross a colon", [allow(condition={"ArnLike": {
        "aws:PrincipalArn": "arn:aws:iam::*"}})], None, "s3:GetObject", "*",
     {"aws:PrincipalArn": ROLE}, False),
    ("ArnLike: a star in the account segment", [allow(condition={"ArnLike": {
        "aws:PrincipalArn": "arn:aws:iam::*:role/tenant-*"}})], None, "s3:GetObject", "*",
     {"aws:PrincipalArn": ROLE}, True),
    ("ArnLike: a star in the resource segment spans slashes", [allow(condition={"ArnLike": {
        "aws:PrincipalArn": f"arn:aws:sts::{ACCOUNT}:assumed-role/*"}})], None, "s3:GetObject",
     "*", {"aws:PrincipalArn": f"arn:aws:sts::{ACCOUNT}:assumed-role/r/s"}, True),
    ("ArnLike: a value that is not an ARN does not match", [allow(condition={"ArnLike": {
        "aws:SourceArn": "*"}})], None, "s3:GetObject", "*", {"aws:SourceArn": "x"}, False),
    ("ArnNotLike: a pattern that would cross a colon holds", [allow(condition={
        "ArnNotLike": {"aws:PrincipalArn": "arn:aws:iam::*"}})], None, "s3:GetObject", "*",
     {"aws:PrincipalArn": ROLE}, True),
    ("ArnNotLike: the matching ARN fails", [allow(condition={"ArnNotLike": {
        "aws:PrincipalArn": "arn:aws:iam::*:role/tenant-*"}})], None, "s3:GetObject", "*",
     {"aws:PrincipalArn": ROLE}, False),
    ("ArnEquals: exact ARN", [allow(condition={"ArnEquals": {"aws:SourceArn": TOPIC}})], None,
     "sqs:SendMessage", "*", {"aws:SourceArn": TOPIC}, True),
    ("Version 2012-10-17 substitutes variables", [OWN_PREFIX], None, "s3:GetObject",
     f"{BUCKET}/tenant-a/x", tenant("tenant-a"), True),
    ("without Version a variable is literal text", [version(OWN_PREFIX, None)], None,
     "s3:GetObject", f"{BUCKET}/tenant-a/x", tenant("tenant-a"), False),
    ("without Version the literal text itself matches",
     [version(OWN_PREFIX, None)], None, "s3:GetObject", f"{BUCKET}/{TAG}/x",
     tenant("tenant-a"), True),
    ("Version 2008-10-17 reads variables as literal text", [version(OWN_PREFIX, "2008-10-17")],
     None, "s3:GetObject", f"{BUCKET}/tenant-a/x", tenant("tenant-a"), False),
    ("without Version a condition variable is literal text", [version(LEADING_POLICY, None)],
     None, "dynamodb:Query", ORDERS, {**tenant("tenant-a"), **leading("TENANT#tenant-a")}, False),
    ("an unknown operator under ForAllValues is refused even with the key absent",
     [allow(condition={"ForAllValues:StringSortOf": {"dynamodb:LeadingKeys": ["x"]}})], None,
     "dynamodb:Scan", ORDERS, {}, False),
    ("NullIfExists is not an operator", [allow(condition={"NullIfExists": {
        "aws:TokenIssueTime": "true"}})], None, "s3:GetObject", "*", {}, False),
    ("a misspelt operator is refused with the key present", [allow(condition={
        "StringEqual": {"aws:RequestedRegion": "us-east-1"}})], None, "s3:GetObject", "*",
     {"aws:RequestedRegion": "us-east-1"}, False),
    ("multivalued key: ForAnyValue with one matching tag key", [allow(condition={
        "ForAnyValue:StringEquals": {"aws:TagKeys": ["CostCenter"]}})], None,
     "iam:TagRole", "*", {"aws:TagKeys": ["Owner", "CostCenter"]}, True),
    ("multivalued key: ForAllValues with one extra tag key", [allow(condition={
        "ForAllValues:StringEquals": {"aws:TagKeys": ["CostCenter", "Owner"]}})], None,
     "iam:TagRole", "*", {"aws:TagKeys": ["Owner", "Project"]}, False),
    ("multivalued key: ForAllValues with a subset", [allow(condition={
        "ForAllValues:StringEquals": {"aws:TagKeys": ["CostCenter", "Owner"]}})], None,
     "iam:TagRole", "*", {"aws:TagKeys": ["Owner"]}, True),
    ("multivalued key: ForAnyValue:StringNotEquals holds with one other value", [allow(
        condition={"ForAnyValue:StringNotEquals": {"aws:TagKeys": ["Owner"]}})], None,
     "iam:TagRole", "*", {"aws:TagKeys": ["Owner", "Project"]}, True),
    ("NotAction with Deny denies all but the named actions", [allow(), deny(NotAction=[
        "iam:*", "sts:*"])], None, "dynamodb:Scan", ORDERS, {}, False),
    ("NotAction with Deny spares the named actions", [allow(), deny(NotAction=["iam:*"])],
     None, "iam:ListRoles", "*", {}, True),
    ("NotAction with Allow and a resource only covers that resource", [allow(
        NotAction="iam:*", resource=ORDERS)], None, "dynamodb:Scan", PRODUCTS, {}, False),
    ("NotResource with Allow covers everything else", [allow("s3:*", NotResource=[
        f"{BUCKET}/tenant-b/*"])], None, "s3:GetObject", f"{BUCKET}/tenant-a/x", {}, True),
    ("NotResource with Allow spares nothing it names", [allow("s3:*", NotResource=[
        f"{BUCKET}/tenant-b/*"])], None, "s3:GetObject", f"{BUCKET}/tenant-b/x", {}, False),
    ("session policy: an allow needs both, NotAction in the session", [allow("*", "*")],
     [allow(NotAction="dynamodb:*")], "dynamodb:GetItem", ORDERS, {}, False),
    ("session policy: a managed-policy ARN style list of two policies, one allowing",
     [allow("*", "*")], [allow("sqs:*"), allow("dynamodb:GetItem", ORDERS)], "dynamodb:GetItem",
     ORDERS, {}, True),
    ("session policy with a tag variable scopes a broad role", [allow("s3:*", "*")],
     [OWN_PREFIX], "s3:GetObject", f"{BUCKET}/tenant-b/x", tenant("tenant-a"), False),
]


# Lab 3's messaging path: an EventBridge bus, SQS queues, a KMS signing key (by its key ARN).
BUS = f"arn:aws:events:us-east-1:{ACCOUNT}:event-bus/saas-lab-order-events"
QUEUE = f"arn:aws:sqs:us-east-1:{ACCOUNT}:saas-lab-order-events"
KEY = f"arn:aws:kms:us-east-1:{ACCOUNT}:key/0f0e0d0c-aaaa-bbbb-cccc-000000000001"
CASES += [
    ("PutEvents on the bus it names", [allow("events:PutEvents", BUS)], None, "events:PutEvents",
     BUS, {}, True),
    ("PutEvents on the default bus is another resource", [allow("events:PutEvents", BUS)], None,
     "events:PutEvents", f"arn:aws:events:us-east-1:{ACCOUNT}:event-bus/default", {}, False),
    ("a rule ARN does not cover its bus", [allow("events:PutEvents",
                                                 f"arn:aws:events:*:{ACCOUNT}:rule/*")], None,
     "events:PutEvents", BUS, {}, False),
    ("a queue name wildcard covers its dead-letter queue too", [allow(
        "sqs:SendMessage", f"{QUEUE}*")], None, "sqs:SendMessage", f"{QUEUE}-dlq", {}, True),
    ("the queue's exact ARN does not cover its dead-letter queue", [allow(
        "sqs:SendMessage", QUEUE)], None, "sqs:SendMessage", f"{QUEUE}-dlq", {}, False),
    ("kms:Verify does not allow kms:Sign", [allow("kms:Verify", KEY)], None, "kms:Sign", KEY, {},
     False),
    ("kms:Sign on the key ARN", [allow("kms:Sign", KEY)], None, "kms:Sign", KEY, {}, True),
    ("an alias ARN in a policy does not match the key it points at", [allow(
        "kms:Sign", f"arn:aws:kms:us-east-1:{ACCOUNT}:alias/saas-lab-order-events")], None,
     "kms:Sign", KEY, {}, False),
]


@pytest.mark.parametrize("identity, session, action, resource, context, allowed",
                         [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_decision(identity, session, action, resource, context, allowed):
    decision = evaluate(Request(action, resource, context), identity, session)
    assert decision.allowed is allowed, decision.reason


def test_there_are_at_least_ninety_documented_cases():
    assert len(CASES) >= 90 and len({c[0] for c in CASES}) == len(CASES)


def test_denial_reasons_use_awss_words():
    implicit = evaluate(Request("dynamodb:Scan", ORDERS), [LEADING_POLICY])
    assert implicit.reason == "because no identity-based policy allows the dynamodb:Scan action"
    explicit = evaluate(Request("s3:GetObject", "x"), [allow(), deny("s3:*")])
    assert explicit.reason == "with an explicit deny in an identity-based policy"
    session = evaluate(Request("dynamodb:PutItem", ORDERS), [allow()], [allow("dynamodb:Query")])
    assert session.reason == "because no session policy allows the dynamodb:PutItem action"


@pytest.mark.parametrize("operator", ["DateGreaterThan", "IpAddress", "ForEveryValue:StringLike",
                                      "NullIfExists", "ForAllValues:DateLessThan"])
def test_operators_the_gate_does_not_implement_are_refused_not_guessed(operator):
    policy = allow(condition={operator: {"aws:CurrentTime": "2020-01-01T00:00:00Z"}})
    decision = evaluate(Request("s3:GetObject", "*", {"aws:CurrentTime": "x"}), [policy])
    assert not decision.allowed and "cannot evaluate" in decision.reason
    absent = evaluate(Request("s3:GetObject", "*", {}), [policy])
    assert not absent.allowed and "cannot evaluate" in absent.reason


TRUST = {"Version": "2012-10-17", "Statement": [{
    "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
    "Action": ["sts:AssumeRole", "sts:TagSession"],
    "Condition": {"StringLike": {"aws:RequestTag/TenantID": "tenant-*"}}}]}
ADMIN = f"arn:aws:iam::{ACCOUNT}:root"
TAGGED = {"aws:RequestTag/TenantID": "tenant-a", "aws:TagKeys": ["TenantID"]}


@pytest.mark.parametrize("trust, action, caller, context, allowed", [
    (TRUST, "sts:AssumeRole", ADMIN, TAGGED, True),
    (TRUST, "sts:TagSession", ADMIN, TAGGED, True),
    (TRUST, "sts:TagSession", ADMIN, {}, False),
    (TRUST, "sts:AssumeRole", "arn:aws:iam::999999999999:root", TAGGED, False),
    ({"Statement": [{"Effect": "Allow", "Principal": {"AWS": ACCOUNT},
                     "Action": "sts:AssumeRole"}]}, "sts:TagSession", ADMIN, TAGGED, False),
    ({"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "sts:*",
                     "Condition": {"ForAllValues:StringEquals": {"aws:TagKeys": ["TenantID"]}}}]},
     "sts:TagSession", ADMIN, {**TAGGED, "aws:TagKeys": ["TenantID", "Admin"]}, False),
    ({"Statement": TRUST["Statement"] + [{"Effect": "Deny", "Principal": "*",
                                          "Action": "sts:AssumeRole"}]},
     "sts:AssumeRole", ADMIN, TAGGED, False),
], ids=["account root may assume", "tags allowed by trust", "tag condition needs the tag",
        "another account is not trusted", "no TagSession in trust", "extra tag keys refused",
        "explicit deny in trust"])
def test_trust_policy(trust, action, caller, context, allowed):
    decision = trust_allows(trust, Request(action, "arn:aws:iam::x:role/r", context), caller,
                            caller.split(":")[4])
    assert decision.allowed is allowed, decision.reason


def test_json_booleans_and_numbers_are_compared_as_their_json_text():
    """IAM's policy grammar: "Values are enclosed in quotation marks. Quotation marks are optional
    for numeric and Boolean values." So ``false`` is the string "false" and ``10`` is "10"
    (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_grammar.html)."""
    insecure = {"aws:SecureTransport": False}
    for operator in ("StringEquals", "StringLike", "Bool"):
        assert evaluate(Request("s3:GetObject", "x", insecure), [allow(condition={
            operator: {"aws:SecureTransport": False}})]).allowed
        assert not evaluate(Request("s3:GetObject", "x", insecure), [allow(condition={
            operator: {"aws:SecureTransport": True}})]).allowed
    assert evaluate(Request("s3:GetObject", "x", insecure), [allow(), deny(condition={
        "StringEquals": {"aws:SecureTransport": False}})]).allowed is False
    keys = {"s3:max-keys": "10"}
    assert evaluate(Request("s3:ListBucket", "x", keys), [allow(condition={
        "StringEquals": {"s3:max-keys": 10}})]).allowed
    assert evaluate(Request("s3:ListBucket", "x", keys), [allow(condition={
        "NumericLessThanEquals": {"s3:max-keys": 10}})]).allowed
