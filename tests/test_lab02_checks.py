"""Lab 2's checks pass on the solution and catch each classic isolation mistake.

The solution functions come from solutions/02-tenant-isolation.ipynb itself.
Each mutant is one realistic wrong answer (AWS's IAM pitfalls, OWASP's JWT
list, boto3 misuse); the table names the case that must catch it, so a check
that loses its teeth fails here. Benign variants are answers written
differently but correctly: a check that fails one of them is too strict.
"""

from __future__ import annotations

import copy
import datetime as dt
import os
import threading
import time
from datetime import UTC, datetime, timedelta

import boto3
import jwt
import mutants
import pytest
from botocore import UNSIGNED
from botocore.config import Config

from checks import run
from checks.notebook_code import exercise_ids, functions_for, namespace, solution_path

TAG = "${aws:PrincipalTag/TenantID}"


@pytest.fixture(scope="module")
def solution(lab):
    return namespace(solution_path(2))


@pytest.mark.parametrize("exercise", exercise_ids(2))
def test_the_solution_passes(solution, exercise):
    outcome = run(exercise, *functions_for(exercise, solution))
    assert outcome.passed, outcome.message
    assert not outcome.skipped


# --- 2.1 a tenant-scoped policy ----------------------------------------------------------------


def condition(*patterns, operator="ForAllValues:StringLike"):
    return {operator: {"dynamodb:LeadingKeys": list(patterns)}}


def policy_with(s, extra=(), **changes):
    """The solution's policy with its statement changed and maybe more statements added."""
    def tenant_policy(table_arn):
        policy = copy.deepcopy(s["tenant_policy"](table_arn))
        statement = policy["Statement"][0]
        for key, value in changes.items():
            if value is None:
                statement.pop(key, None)
            else:
                statement[key] = value(table_arn) if callable(value) else value
        policy["Statement"] += [make(table_arn) for make in extra]
        return policy
    return tenant_policy


OWN = [f"TENANT#{TAG}", f"TENANT#{TAG}#*"]


def policy_mutants(s):
    def no_version(arn):
        return {"Statement": s["tenant_policy"](arn)["Statement"]}

    def ignores_arn(arn):
        return s["tenant_policy"](s["lab"].table_arn("orders"))

    return [
        ("dynamodb:* (the Scan trap)", policy_with(s, Action="dynamodb:*"), "a Scan"),
        ("an action family Get*/Update*/Put*", policy_with(s, Action=[
            "dynamodb:Get*", "dynamodb:Put*", "dynamodb:Update*", "dynamodb:DeleteItem",
            "dynamodb:Query"]), "every other DynamoDB action"),
        ("NotAction Scan: PartiQL still scans", policy_with(
            s, Action=None, NotAction=["dynamodb:Scan"]), "a Scan"),
        ("NotAction instead of Action", policy_with(
            s, Action=None, NotAction=["dynamodb:Scan", "dynamodb:PartiQLSelect"]),
         "every other DynamoDB action"),
        ("a trailing star admits lookalikes", policy_with(
            s, Condition=condition(f"TENANT#{TAG}*")), "lookalike"),
        ("a star on both sides", policy_with(s, Condition=condition(f"*{TAG}*")), "lookalike"),
        ("forgets the sharded keys", policy_with(s, Condition=condition(f"TENANT#{TAG}")),
         "own partitions"),
        ("hard-codes tenant-a", policy_with(
            s, Condition=condition("TENANT#tenant-a", "TENANT#tenant-a#*")), "own partitions"),
        ("every table", policy_with(s, Resource="*"), "the table ARN it is given"),
        ("a Resource wildcard beyond the table", policy_with(s, Resource=lambda arn: f"{arn}*"),
         "other resources"),
        ("no condition at all", policy_with(s, Condition=None), "other tenants' partitions"),
        ("a wildcard that needs no tag", policy_with(s, Condition=condition("TENANT#*")),
         "other tenants' partitions"),
        ("BatchGetItem in a statement without the condition", policy_with(s, extra=[
            lambda arn: {"Effect": "Allow", "Action": "dynamodb:BatchGetItem",
                         "Resource": arn}]), "other tenants' partitions"),
        ("index queries without the condition", policy_with(s, extra=[
            lambda arn: {"Effect": "Allow", "Action": "dynamodb:Query",
                         "Resource": f"{arn}/index/*"}]), "other tenants' partitions"),
        ("ForAnyValue instead of ForAllValues", policy_with(
            s, Condition=condition(*OWN, operator="ForAnyValue:StringLike")), "a batch mixing"),
        ("StringLike without a set operator", policy_with(
            s, Condition=condition(*OWN, operator="StringLike")), "a batch mixing"),
        ("a default for the tag", policy_with(s, Condition=condition(
            "TENANT#${aws:PrincipalTag/TenantID, 'tenant-a'}",
            "TENANT#${aws:PrincipalTag/TenantID, 'tenant-a'}#*")), "without a TenantID tag"),
        ("an empty default for the tag", policy_with(s, Condition=condition(
            "TENANT#${aws:PrincipalTag/TenantID, ''}",
            "TENANT#${aws:PrincipalTag/TenantID, ''}#*")), "without a TenantID tag"),
        ("a Query statement that only limits the attributes", policy_with(s, extra=[
            lambda arn: {"Effect": "Allow", "Action": "dynamodb:Query", "Resource": arn,
                         "Condition": {"StringEquals": {"dynamodb:Select":
                                                        "SPECIFIC_ATTRIBUTES"}}}]),
         "other tenants' partitions"),
        ("a condition on the tag, not on the key", policy_with(s, Condition={
            "StringLike": {"aws:PrincipalTag/TenantID": "tenant-*"}}),
         "other tenants' partitions"),
        ("a Scan that may only count", policy_with(s, extra=[lambda arn: {
            "Effect": "Allow", "Action": "dynamodb:Scan", "Resource": arn,
            "Condition": {"StringEquals": {"dynamodb:Select": "COUNT"}}}]), "a Scan"),
        ("allows reading the table's metadata too", policy_with(s, Action=[
            "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem",
            "dynamodb:Query", "dynamodb:DescribeTable", "dynamodb:DescribeTimeToLive"]),
         "every other DynamoDB action"),
        ("a Scan of the key attributes only", policy_with(s, extra=[lambda arn: {
            "Effect": "Allow", "Action": "dynamodb:Scan", "Resource": arn, "Condition": {
                "StringEquals": {"dynamodb:Select": "SPECIFIC_ATTRIBUTES"},
                "ForAllValues:StringEquals": {"dynamodb:Attributes": ["pk", "sk", "tenant_id"]}}}]),
         "a Scan"),
        ("a 'region guard': dynamodb:* in the lab's region", policy_with(s, extra=[
            lambda arn: {"Effect": "Allow", "Action": "dynamodb:*", "Resource": arn,
                         "Condition": {"StringEquals": {"aws:RequestedRegion": arn.split(":")[3]}}}
        ]), "other tenants' partitions"),
        ("a Scan allowed to non-TLS callers only (the emulator's)", policy_with(s, extra=[
            lambda arn: {"Effect": "Allow", "Action": "dynamodb:Scan", "Resource": arn,
                         "Condition": {"Bool": {"aws:SecureTransport": "false"}}}]), "a Scan"),
        ("a Scan of one non-key attribute", policy_with(s, extra=[lambda arn: {
            "Effect": "Allow", "Action": "dynamodb:Scan", "Resource": arn, "Condition": {
                "ForAllValues:StringEquals": {"dynamodb:Attributes": ["tenant_id", "total"]},
                "Null": {"dynamodb:Attributes": "false"}}}]), "a Scan"),
        ("dynamodb:* for sessions of the tenant role", policy_with(s, extra=[
            lambda arn: {"Effect": "Allow", "Action": "dynamodb:*", "Resource": arn,
                         "Condition": {"ArnLike": {
                             "aws:PrincipalArn": "arn:aws:iam::*:role/*tenant-access"}}}
        ]), "other tenants' partitions"),
        ("dynamodb:* for sessions named after their tenant", policy_with(s, extra=[
            lambda arn: {"Effect": "Allow", "Action": "dynamodb:*", "Resource": arn, "Condition": {
                "StringLike": {"aws:userid": "*:${aws:PrincipalTag/TenantID}"}}}]),
         "other tenants' partitions"),
        ("no Version: policy variables stay literal text", no_version, "a policy document"),
        ("ignores the table ARN it is given", ignores_arn, "the table ARN it is given"),
        ("returns JSON text", lambda arn: "{}", "a policy document"),
        ("returns None", lambda arn: None, "a policy document"),
        ("statements as strings", lambda arn: {"Version": "2012-10-17", "Statement": ["x"]},
         "a policy document"),
    ]


def policy_benign(s):
    return [
        ("the solution", s["tenant_policy"]),
        ("the five item actions only", policy_with(s, Action=[
            "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem",
            "dynamodb:Query"])),
        ("*Item and Query", policy_with(s, Action=["dynamodb:*Item", "dynamodb:Query"])),
        ("one statement, not a list", lambda arn: {
            **s["tenant_policy"](arn), "Statement": s["tenant_policy"](arn)["Statement"][0]}),
        ("an explicit deny of Scan", policy_with(s, extra=[
            lambda arn: {"Effect": "Deny", "Action": "dynamodb:Scan", "Resource": "*"}])),
        ("a Null condition on top", policy_with(s, Condition={
            **condition(*OWN), "Null": {"dynamodb:LeadingKeys": "false"}})),
        ("the tag key in lower case", policy_with(s, Condition=condition(
            "TENANT#${aws:PrincipalTag/tenantid}", "TENANT#${aws:PrincipalTag/tenantid}#*"))),
        ("its indexes too, with the condition", policy_with(
            s, Resource=lambda arn: [arn, f"{arn}/index/*"])),
        ("everything under the table, for item actions", policy_with(
            s, Resource=lambda arn: [arn, f"{arn}/*"])),
        ("Resource '*' cut back by a Deny on NotResource", policy_with(s, Resource="*", extra=[
            lambda arn: {"Effect": "Deny", "Action": "dynamodb:*", "NotResource": arn}])),
    ]


# --- 2.2 the token vending machine -------------------------------------------------------------


def vendor_mutants(s):
    lab, verify, role = s["lab"], s["verify_id_token"], s["TENANT_ROLE"]
    sts = lab.client("sts")

    def assume(tenant, tag_key="TenantID", role_arn=None, tag_value=None):
        return sts.assume_role(RoleArn=role_arn or role, RoleSessionName=tenant,
                               Tags=[{"Key": tag_key, "Value": tag_value or tenant}]
                               )["Credentials"]

    def vendor(claims_of=lambda token: verify(lab.identity, token), margin=timedelta(minutes=5),
               clock=None, key_of=lambda token, tenant: tenant, assume_first=False, naive=False,
               **assume_args):
        cache: dict = {}

        def vend_credentials(token, now=None):
            now = (clock or (lambda: now or (datetime.utcnow() if naive else datetime.now(UTC))
                             ))()
            if assume_first:  # the claim is read first, verified only after STS answered
                tenant = jwt.decode(token, options={"verify_signature": False}).get(
                    "custom:tenant_id", "")
                cached = cache.get(tenant)
                if cached is None or cached["Expiration"] - now <= margin:
                    fresh = assume(tenant, **assume_args)
                    cache[tenant] = fresh
                verify(lab.identity, token)
                return cache[tenant]
            tenant = claims_of(token)["custom:tenant_id"]
            key = key_of(token, tenant)
            cached = cache.get(key)
            if cached is None or (margin is not None and cached["Expiration"] - now <= margin):
                cache[key] = assume(tenant, **assume_args)
            return cache[key]
        return vend_credentials

    def signature_only(token):
        key = jwt.PyJWKClient(lab.identity.jwks_url).get_signing_key_from_jwt(token).key
        return jwt.decode(token, key, algorithms=["RS256"], options={"verify_aud": False})

    def no_expiry_check(token):
        key = jwt.PyJWKClient(lab.identity.jwks_url).get_signing_key_from_jwt(token).key
        return jwt.decode(token, key, algorithms=["RS256"], audience=lab.identity.client_id,
                          issuer=lab.identity.issuer, options={"verify_exp": False})

    def whole_response(token, now=None):
        return {"Credentials": {}}

    def without_token(token, now=None):
        creds = s["vend_credentials"](token, now=now)
        return {k: v for k, v in creds.items() if k != "SessionToken"}

    def swallowing(token, now=None):
        try:
            return s["vend_credentials"](token, now=now)
        except Exception:
            return None

    def fallback(token):
        try:
            return verify(lab.identity, token)
        except jwt.InvalidTokenError:
            return jwt.decode(token, options={"verify_signature": False})

    def old_signature(token):
        return s["vend_credentials"](token)

    def with_clock(clock_of):
        """A vending machine whose ``now`` defaults to what ``clock_of(now)`` makes of it."""
        cache: dict = {}

        def vend_credentials(token, now=None):
            now = clock_of(now)
            tenant = verify(lab.identity, token)["custom:tenant_id"]
            if tenant not in cache or cache[tenant]["Expiration"] - now <= timedelta(minutes=5):
                cache[tenant] = assume(tenant)
            return cache[tenant]
        return vend_credentials

    def locked_vendor():
        cache: dict = {}
        lock = threading.Lock()

        def vend_credentials(token, *, now=None):
            now = now or datetime.now(UTC)
            tenant = verify(lab.identity, token)["custom:tenant_id"]
            with lock:
                cached = cache.get(tenant)
                if cached is None or cached["Expiration"] - now <= timedelta(minutes=5):
                    cache[tenant] = cached = assume(tenant)
            return cached
        return vend_credentials

    aware_cache: dict = {}

    def utc_aware(token, now=None):
        now = now or datetime.utcnow().replace(tzinfo=UTC)
        tenant = verify(lab.identity, token)["custom:tenant_id"]
        cached = aware_cache.get(tenant)
        if cached is None or cached["Expiration"] - now <= timedelta(minutes=5):
            aware_cache[tenant] = assume(tenant)
        return aware_cache[tenant]

    epoch_cache: dict = {}

    def epoch_clock(token, now=None):
        seconds = now.timestamp() if now else time.time()
        tenant = verify(lab.identity, token)["custom:tenant_id"]
        cached = epoch_cache.get(tenant)
        if cached is None or cached["Expiration"].timestamp() - seconds <= 300:
            epoch_cache[tenant] = assume(tenant)
        return epoch_cache[tenant]

    frozen_cache: dict = {}

    def frozen_default(token, now=datetime.now(UTC)):  # noqa: B008 - the mistake itself
        tenant = verify(lab.identity, token)["custom:tenant_id"]
        cached = frozen_cache.get(tenant)
        if cached is None or cached["Expiration"] - now <= timedelta(minutes=5):
            frozen_cache[tenant] = assume(tenant)
        return frozen_cache[tenant]

    first_seen: dict = {}
    first_cache: dict = {}

    def first_time(token, now=None):
        now = now or first_seen.setdefault("now", datetime.now(UTC))
        tenant = verify(lab.identity, token)["custom:tenant_id"]
        cached = first_cache.get(tenant)
        if cached is None or cached["Expiration"] - now <= timedelta(minutes=5):
            first_cache[tenant] = assume(tenant)
        return first_cache[tenant]

    return [
        ("calls STS every time", vendor(margin=timedelta(days=1)), "a second user of tenant-a"),
        ("caches per token, not per tenant", vendor(key_of=lambda token, tenant: token),
         "a second user of tenant-a"),
        ("one cache for every tenant", vendor(key_of=lambda token, tenant: "all"),
         "credentials for bob"),
        ("trusts the token without verifying it", vendor(
            claims_of=lambda token: jwt.decode(token, options={"verify_signature": False})),
         "refuses"),
        ("checks only the signature", vendor(claims_of=signature_only), "another user pool"),
        ("accepts expired tokens", vendor(claims_of=no_expiry_check), "expired"),
        ("calls STS before verifying", vendor(assume_first=True), "no call to STS"),
        ("tags every session tenant-a", vendor(tag_value="tenant-a"), "credentials for bob"),
        ("the broad role", vendor(role_arn=lab.role_arn("order-service")),
         "credentials for alice"),
        ("a cache that never expires", vendor(margin=None), "renews"),
        ("no margin before Expiration", vendor(margin=timedelta(0)), "renews"),
        ("ignores the clock it is given", vendor(clock=lambda: datetime.now(UTC)), "renews"),
        ("returns the whole response", whole_response, "credentials for alice"),
        ("drops the session token", without_token, "credentials for alice"),
        ("takes no clock", old_signature, "takes a clock"),
        ("returns None for a token that does not verify", swallowing, "refuses"),
        ("falls back to reading the token unverified", vendor(claims_of=fallback), "refuses"),
        ("now=datetime.now(UTC) as the default (evaluated once)", frozen_default,
         "without now="),
        ("a naive default clock, utcnow()", vendor(naive=True), "without now="),
        ("the time of the first call, kept", first_time, "without now="),
    ], [
        ("the solution", s["vend_credentials"]),
        ("a tag key that differs in case", vendor(tag_key="tenantid")),
        ("a ten-minute margin", vendor(margin=timedelta(minutes=10))),
        ("a margin of two and a half minutes", vendor(margin=timedelta(minutes=2.5))),
        ("strips a 'Bearer ' prefix itself", vendor(claims_of=lambda token: verify(
            lab.identity, token.removeprefix("Bearer ")))),
        ("reads the time through the datetime module", with_clock(
            lambda now: now or dt.datetime.now(dt.UTC))),
        ("reads the time with time.time()", with_clock(
            lambda now: now or datetime.fromtimestamp(time.time(), UTC))),
        ("keyword-only now, with a lock", locked_vendor()),
        ("utcnow() made aware", utc_aware),
        ("the time from time.time()", epoch_clock),
    ]


# --- 2.3 data access with the tenant's credentials ---------------------------------------------


def table_mutants(s):
    lab, vend = s["lab"], s["vend_credentials"]
    orders = lab.settings.name("orders")

    def table(credentials, token=True, endpoint=True, region=None, secret=None, name=orders):
        session = boto3.Session(
            aws_access_key_id=credentials["AccessKeyId"],
            aws_secret_access_key=secret or credentials["SecretAccessKey"],
            aws_session_token=credentials["SessionToken"] if token else None,
            region_name=region or lab.settings.region)
        return session.resource("dynamodb", **(
            {"endpoint_url": lab.settings.endpoint} if endpoint else {})).Table(name)

    first: list = []

    def built_once(credentials):
        if not first:
            first.append(table(credentials))
        return first[0]

    alice = vend(lab.id_token("alice@tenant-a.example.com"))
    broad = s["credentials_of"]  # the notebook's helper: a session of any role

    def broad_vendor(token, now=None):
        session = broad(lab.role_arn("order-service"), RoleSessionName="broad").get_credentials()
        frozen = session.get_frozen_credentials()
        return {"AccessKeyId": frozen.access_key, "SecretAccessKey": frozen.secret_key,
                "SessionToken": frozen.token, "Expiration": datetime.now(UTC)}

    def default_session(c):
        boto3.setup_default_session(aws_access_key_id=c["AccessKeyId"],
                                    aws_secret_access_key=c["SecretAccessKey"],
                                    aws_session_token=c["SessionToken"],
                                    region_name=lab.settings.region)
        return boto3.resource("dynamodb", endpoint_url=lab.settings.endpoint).Table(orders)

    def environment_credentials(c):
        os.environ.update(AWS_ACCESS_KEY_ID=c["AccessKeyId"],
                          AWS_SECRET_ACCESS_KEY=c["SecretAccessKey"],
                          AWS_SESSION_TOKEN=c["SessionToken"])
        return boto3.Session(region_name=lab.settings.region).resource(
            "dynamodb", endpoint_url=lab.settings.endpoint).Table(orders)

    return [
        ("boto3.setup_default_session per tenant", (vend, default_session),
         "default session"),
        ("credentials put in os.environ", (vend, environment_credentials), "default session"),
        ("signs as the administrator", (vend, lambda c: lab.table("orders")),
         "with the vended credentials"),
        ("a table of another name", (vend, lambda c: table(c, name="orders")),
         "returns the orders table"),
        ("returns a client", (vend, lambda c: table(c).meta.client), "returns the orders table"),
        ("returns None", (vend, lambda c: None), "returns the orders table"),
        ("no endpoint: it would talk to AWS", (vend, lambda c: table(c, endpoint=False)),
         "the lab's endpoint"),
        ("drops the session token", (vend, lambda c: table(c, token=False)),
         "all three parts"),
        ("a secret from elsewhere", (vend, lambda c: table(c, secret="not-the-secret")),
         "all three parts"),
        ("builds one table for every tenant", (vend, built_once), "tenant-b reaches"),
        ("alice's credentials for everyone", (vend, lambda c: table(alice)), "tenant-b reaches"),
        ("another region", (vend, lambda c: table(c, region="eu-west-1")), "in its region"),
        ("unsigned requests", (vend, lambda c: boto3.resource(
            "dynamodb", endpoint_url=lab.settings.endpoint, region_name=lab.settings.region,
            config=Config(signature_version=UNSIGNED)).Table(orders)),
         "reaches its own partition"),  # the account refuses unsigned requests outright
        ("the broad role's credentials", (broad_vendor, s["scoped_orders_table"]),
         "cross-tenant"),
    ], [
        ("the solution", (vend, s["scoped_orders_table"])),
        ("localhost for 127.0.0.1", (vend, lambda c: boto3.Session(
            aws_access_key_id=c["AccessKeyId"], aws_secret_access_key=c["SecretAccessKey"],
            aws_session_token=c["SessionToken"], region_name=lab.settings.region).resource(
            "dynamodb", endpoint_url=lab.settings.endpoint.replace("127.0.0.1", "localhost")
        ).Table(orders))),
        ("boto3.resource with keys, no Session", (vend, lambda c: boto3.resource(
            "dynamodb", endpoint_url=lab.settings.endpoint, region_name=lab.settings.region,
            aws_access_key_id=c["AccessKeyId"], aws_secret_access_key=c["SecretAccessKey"],
            aws_session_token=c["SessionToken"]).Table(orders))),
    ]


# --- 2.4 a session policy per tenant -----------------------------------------------------------


def session_mutants(s):
    right = s["session_policy"]

    def with_statements(*statements, keep=()):
        def session_policy(tenant, bucket):
            kept = [right(tenant, bucket)["Statement"][i] for i in keep]
            return {"Version": "2012-10-17",
                    "Statement": kept + [make(tenant, bucket) for make in statements]}
        return session_policy

    def objects(resource, actions=("s3:GetObject", "s3:PutObject")):
        return lambda t, b: {"Effect": "Allow", "Action": list(actions),
                             "Resource": resource(t, b)}

    def listing(condition=None):
        return lambda t, b: {"Effect": "Allow", "Action": "s3:ListBucket",
                             "Resource": f"arn:aws:s3:::{b}",
                             **({"Condition": condition(t)} if condition else {})}

    own_objects = objects(lambda t, b: f"arn:aws:s3:::{b}/{t}/*")
    own_listing = listing(lambda t: {"StringLike": {"s3:prefix": f"{t}/*"}})
    return [
        ("a prefix without its slash", with_statements(
            objects(lambda t, b: f"arn:aws:s3:::{b}/{t}*"), keep=(1,)), "lookalike prefix"),
        ("lists without a prefix condition", with_statements(own_objects, listing()),
         "other tenants' prefixes"),
        ("admits the empty prefix", with_statements(own_objects, listing(
            lambda t: {"StringLike": {"s3:prefix": ["", f"{t}/*"]}})), "the whole bucket"),
        ("a prefix condition only if present", with_statements(own_objects, listing(
            lambda t: {"StringLikeIfExists": {"s3:prefix": f"{t}/*"}})), "the whole bucket"),
        ("a listing prefix without its slash", with_statements(own_objects, listing(
            lambda t: {"StringLike": {"s3:prefix": f"{t}*"}})), "lookalike prefix"),
        ("ForAllValues on s3:prefix", with_statements(own_objects, listing(
            lambda t: {"ForAllValues:StringLike": {"s3:prefix": f"{t}/*"}})),
         "the whole bucket"),
        ("Put* on its own prefix (ACLs, retention)", with_statements(objects(
            lambda t, b: f"arn:aws:s3:::{b}/{t}/*", ("s3:GetObject", "s3:Put*")), keep=(1,)),
         "other actions"),
        ("ListBucket on the object ARN", with_statements(
            own_objects, lambda t, b: {**own_listing(t, b), "Resource": f"arn:aws:s3:::{b}/*"}),
         "its own prefix"),
        ("keeps the role's DynamoDB rights", with_statements(
            lambda t, b: {"Effect": "Allow", "Action": "dynamodb:*", "Resource": "*"},
            keep=(0, 1)),
         "DynamoDB"),
        ("the whole bucket's objects", with_statements(
            objects(lambda t, b: f"arn:aws:s3:::{b}/*"), keep=(1,)),
         "other tenants' objects"),
        ("DeleteObject on the whole bucket", with_statements(
            objects(lambda t, b: f"arn:aws:s3:::{b}/*", ("s3:DeleteObject",)), keep=(0, 1)),
         "other tenants' objects"),
        ("s3:* on its own prefix", with_statements(
            objects(lambda t, b: f"arn:aws:s3:::{b}/{t}/*", ("s3:*",)), keep=(1,)),
         "other actions"),
        ("any bucket's folder of that name", with_statements(
            objects(lambda t, b: f"arn:aws:s3:::*/{t}/*"), keep=(1,)), "other tenants' objects"),
        ("a bucket name with a star", with_statements(
            objects(lambda t, b: f"arn:aws:s3:::{b}*/{t}/*"), keep=(1,)),
         "other tenants' objects"),
        ("lists every bucket", with_statements(own_objects, lambda t, b: {
            **own_listing(t, b), "Resource": "arn:aws:s3:::*"}), "other buckets"),
        ("hard-codes tenant-a", lambda t, b: right("tenant-a", b), "its own prefix"),
        ("hard-codes the lab's bucket", lambda t, b: right(t, s["lab"].bucket),
         "its own prefix"),
        ("returns JSON text", lambda t, b: "{}", "a policy document"),
        ("a 'console' statement: listing in the lab's region", with_statements(
            lambda t, b: {"Effect": "Allow", "Action": ["s3:ListBucket", "s3:GetBucketLocation"],
                          "Resource": f"arn:aws:s3:::{b}", "Condition": {"StringEquals": {
                              "aws:RequestedRegion": s["lab"].settings.region}}}, keep=(0, 1)),
         "other tenants' prefixes"),
        ("lists the whole bucket for the service's own role", with_statements(
            lambda t, b: {"Effect": "Allow", "Action": "s3:ListBucket",
                          "Resource": f"arn:aws:s3:::{b}", "Condition": {"ArnLike": {
                              "aws:PrincipalArn": "arn:aws:iam::*:role/*order-service"}}},
            keep=(0, 1)),
         "other tenants' prefixes"),
        ("lists folders with a delimiter, whatever the prefix", with_statements(
            own_objects, own_listing, listing(lambda t: {"StringEquals": {"s3:delimiter": "/"}})),
         "other tenants' prefixes"),
        ("listing for callers without TLS (the emulator's)", with_statements(
            own_objects, listing(lambda t: {"Bool": {"aws:SecureTransport": "false"}})),
         "other tenants' prefixes"),
    ], [
        ("the solution", right),
        ("DeleteObject on its own prefix too", with_statements(objects(
            lambda t, b: f"arn:aws:s3:::{b}/{t}/*", ("s3:GetObject", "s3:PutObject",
                                                     "s3:DeleteObject")), keep=(1,))),
        ("s3:Get* and PutObject on its own prefix", with_statements(objects(
            lambda t, b: f"arn:aws:s3:::{b}/{t}/*", ("s3:Get*", "s3:PutObject")), keep=(1,))),
        ("an exact prefix or one below it", with_statements(own_objects, listing(
            lambda t: {"StringLike": {"s3:prefix": [f"{t}/", f"{t}/*"]}}))),
    ]


# --- the tables --------------------------------------------------------------------------------


def all_mutants(s):
    rows = [("2.1", bug, (fn,), case) for bug, fn, case in policy_mutants(s)]
    vendors, _ = vendor_mutants(s)
    rows += [("2.2", bug, (fn,), case) for bug, fn, case in vendors]
    tables, _ = table_mutants(s)
    rows += [("2.3", bug, fns, case) for bug, fns, case in tables]
    sessions, _ = session_mutants(s)
    rows += [("2.4", bug, (fn,), case) for bug, fn, case in sessions]
    return rows


def all_benign(s):
    rows = [("2.1", name, (fn,)) for name, fn in policy_benign(s)]
    rows += [("2.2", name, (fn,)) for name, fn in vendor_mutants(s)[1]]
    rows += [("2.3", name, fns) for name, fns in table_mutants(s)[1]]
    rows += [("2.4", name, (fn,)) for name, fn in session_mutants(s)[1]]
    return rows


@pytest.mark.parametrize("exercise", ["2.1", "2.2", "2.3", "2.4"])
def test_every_check_catches_its_classic_mistakes(solution, exercise):
    # A learner's mistake is a teaching report, never "a bug in the kit" or a traceback.
    mutants.assert_caught([row for row in all_mutants(solution) if row[0] == exercise])


@pytest.mark.parametrize("exercise", ["2.1", "2.2", "2.3", "2.4"])
def test_correct_answers_written_differently_pass(solution, exercise):
    failed = []
    for _, name, functions in (row for row in all_benign(solution) if row[0] == exercise):
        outcome = run(exercise, *functions)
        if not outcome.passed:
            failed.append(f"{exercise} {name}: {outcome.message[:400]}")
    assert not failed, "\n".join(failed)


def test_what_the_emulator_cannot_do_is_reported_as_such(solution):
    """Requiring TLS, or a date or IP operator, is right on AWS but refused here: the report
    says it is the emulator's limit, not the learner's mistake."""
    from environment.emulator.iam.policy import Request, evaluate

    tls = policy_with(solution, Condition={**condition(*OWN),
                                           "Bool": {"aws:SecureTransport": "true"}})
    outcome = run("2.1", tls)
    assert outcome.failed_case.endswith("may use its own partitions"), outcome.message
    assert "plain HTTP" in outcome.message and "limit of the lab's emulator" in outcome.message

    right = solution["session_policy"]
    for operator, key, value in (("DateLessThan", "aws:CurrentTime", "2099-01-01T00:00:00Z"),
                                 ("IpAddress", "aws:SourceIp", "127.0.0.0/8")):
        def guarded(tenant, bucket, operator=operator, key=key, value=value):
            policy = right(tenant, bucket)
            for statement in policy["Statement"]:
                statement.setdefault("Condition", {})[operator] = {key: value}
            return policy
        probe = {"Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Action": "s3:GetObject", "Resource": "*",
            "Condition": {operator: {key: value}}}]}
        if evaluate(Request("s3:GetObject", "arn:aws:s3:::b/k", {}), [probe]).reason_type \
                != "unsupported policy":
            continue  # the gate learnt the operator: nothing to report any more
        outcome = run("2.4", guarded)
        assert "may read, write and list its own prefix" in outcome.failed_case, outcome.message
        assert operator in outcome.message and "limit of the lab's emulator" in outcome.message


def test_questions_carry_the_keys_the_gate_adds_to_live_requests(solution):
    """The in-process questions and a live request agree on every global key the gate sets."""
    from checks.isolation_questions import own_partitions
    from checks.policy_space import request_for

    lab = solution["lab"]
    table = lab.table_arn("orders")
    mark = lab.audit_mark()
    credentials = solution["vend_credentials"](lab.id_token("alice@tenant-a.example.com"))
    solution["scoped_orders_table"](credentials).get_item(
        Key={"pk": "TENANT#tenant-a", "sk": "ORDER#none"})
    event = next(e for e in lab.audit(since=mark, action="dynamodb:GetItem"))
    live = lab.why(event).record.context
    question = request_for(own_partitions(table, "tenant-a")[0], lab.settings.region)
    assert live.get("aws:RequestedRegion") == lab.settings.region, live
    assert {k for k in live if k.startswith("aws:")} <= set(question.context), live


def test_lab_2_has_its_four_exercises():
    assert exercise_ids(2) == ["2.1", "2.2", "2.3", "2.4"]


def test_a_repeated_failure_earns_the_code_hint(solution):
    """Case names stay the same across runs, even where the check varies its tenants."""
    rows = {bug: functions for _, bug, functions, _ in all_mutants(solution)}
    for exercise, bug in (("2.1", "hard-codes tenant-a"), ("2.2", "calls STS before verifying"),
                          ("2.4", "hard-codes tenant-a")):
        first, second = run(exercise, *rows[bug]), run(exercise, *rows[bug])
        assert first.failed_case == second.failed_case, bug
        assert "next:" not in first.message and "next:" in second.message, second.message


def test_learner_code_that_hangs_or_raises_gets_a_report(solution):
    import time

    def hangs(*args, **kwargs):
        time.sleep(5)

    def raises(*args, **kwargs):
        raise KeyError("AccessKeyId")

    for exercise, functions in (("2.1", (hangs,)), ("2.2", (hangs,)),
                                ("2.3", (solution["vend_credentials"], raises)),
                                ("2.4", (raises,))):
        outcome = run(exercise, *functions, timeout=0.5)
        assert not outcome.passed
        assert "could not run" not in outcome.message and "Traceback" not in outcome.message
        assert "did not return" in outcome.message or "it raised KeyError" in outcome.message


def _lab_table(lab):
    """A stand-in for a table pointed at the lab's endpoint and region, whose calls a test
    defines (the check looks at these before it makes any call)."""
    from types import SimpleNamespace

    class LabTable:
        name = lab.settings.name("orders")
        meta = SimpleNamespace(client=SimpleNamespace(meta=SimpleNamespace(
            endpoint_url=lab.settings.endpoint, region_name=lab.settings.region)))

    return LabTable


def test_credentials_the_account_refuses_are_taught_as_such(solution):
    """When the gate refuses a session's key without its token (as AWS does), the report says
    what is missing, even for a table the check cannot look inside."""

    from botocore.exceptions import ClientError

    lab = solution["lab"]

    class Refused(_lab_table(lab)):
        def put_item(self, **kwargs):
            raise ClientError({"Error": {"Code": "UnrecognizedClientException",
                                         "Message": "The security token is invalid"}}, "PutItem")

        query = scan = put_item

    outcome = run("2.3", solution["vend_credentials"], lambda credentials: Refused())
    assert outcome.failed_case == "tenant-a reaches its own partition", outcome.message
    assert "UnrecognizedClientException" in outcome.message
    assert "session token" in outcome.message


def test_a_table_whose_calls_hang_gets_a_report(solution):
    import time

    lab = solution["lab"]

    class Hangs(_lab_table(lab)):
        def put_item(self, **kwargs):
            time.sleep(3)

        query = scan = put_item

    outcome = run("2.3", solution["vend_credentials"], lambda credentials: Hangs(), timeout=0.5)
    assert outcome.failed_case == "every tenant's table answers", outcome.message
