"""Checks of lab 2: tenant isolation enforced by the account, not the code.

2.1 and 2.4 are judged by enumeration: the learner's policy is put to the
gate's own evaluator for every action of the service, every resource of the
account, the own tenant, other and lookalike tenants and an untagged session
(see ``isolation_questions``). 2.2 and 2.3 are judged by their effects, as the
account records them in the gate's audit trail.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

from botocore.exceptions import ClientError

from environment.account.tenants import TENANTS
from environment.lab import Lab

from . import isolation_questions as q
from .answers import attempt
from .enforcement import require_enforcement
from .framework import CaseFailed, Trial, exercise
from .matrix import check_matrix
from .policy_space import (
    Question,
    allowed,
    allowed_over_tls,
    denied,
    policy_problem,
    summary,
    unknown_tenant,
    unsupported,
)
from .vending import check_vendor

OWN_CONDITION = ("{'ForAllValues:StringLike': {'dynamodb:LeadingKeys': "
                 "['TENANT#${aws:PrincipalTag/TenantID}', "
                 "'TENANT#${aws:PrincipalTag/TenantID}#*']}}")


def _policy(t: Trial, fn: Callable, *args: Any) -> dict:
    policy = t.call(fn, *args)
    problem = policy_problem(policy)
    t.expect(not problem, "a policy document: a dict with \"Version\": \"2012-10-17\" and a "
             "Statement list", problem,
             hint="build the policy as a Python dict, the same shape as the JSON IAM shows.",
             code_hint="return {'Version': '2012-10-17', 'Statement': [{'Effect': 'Allow', "
                       "'Action': [...], 'Resource': ..., 'Condition': {...}}]}")
    return policy


def _judged(t: Trial, policy: dict, questions: Sequence[Question], expect_allowed: bool,
            hint: str, code_hint: str = "", role: str = "tenant-access") -> None:
    """Fail the current case unless the policy decides every question as expected.

    Questions carry the global keys the gate adds to a live request (aws:RequestedRegion in
    the lab's region, aws:SecureTransport false, ...), so a condition on them decides here as
    it will on the account; the session is one of ``role``, named after its tenant.
    """
    lab = t.lab
    region, role = lab.settings.region, lab.role_arn(role)
    try:
        wrong = (denied if expect_allowed else allowed)(policy, questions, region, role)
    except Exception as error:  # noqa: BLE001 - a policy shape the evaluator cannot read
        raise CaseFailed(t.current, "a policy the IAM policy engine can evaluate",
                         f"{type(error).__name__}: {error}", "check the policy's shape: "
                         "statements are dicts with Effect, Action, Resource and Condition."
                         ) from None
    expected = "allowed" if expect_allowed else "denied"
    count = f"all {len(questions)} requests" if len(questions) > 1 else "the request"
    if wrong and expect_allowed:
        _emulator_limits(t, policy, wrong, region, role, count)
    t.expect(not wrong, f"{count} {expected}",
             summary(wrong, "denied" if expect_allowed else "allowed") if wrong else "",
             hint=hint, code_hint=code_hint)


def _emulator_limits(t: Trial, policy: dict, wrong: Sequence[Question], region: str,
                     role: str, count: str) -> None:
    """A request denied only because of what the lab's emulator cannot do gets that said."""
    reason = unsupported(policy, wrong, region, role)
    if reason:
        t.expect(False, f"{count} allowed",
                 f"{summary(wrong, 'denied')}: {reason}",
                 hint="a limit of the lab's emulator, not a mistake of yours: its policy engine "
                      "implements the string, ARN, numeric, Bool and Null operators, not the "
                      "date (DateLessThan, ...) or IP address (IpAddress, ...) ones, and it "
                      "refuses a policy that uses them, as the account would here. Leave that "
                      "condition out for this lab.")
    if allowed_over_tls(policy, wrong, region, role):
        t.expect(False, f"{count} allowed",
                 f"{summary(wrong, 'denied')}: the policy requires aws:SecureTransport true",
                 hint="a limit of the lab's emulator, not a mistake of yours: it speaks plain "
                      "HTTP, so every request here has aws:SecureTransport false and the account "
                      "would refuse them all. Requiring TLS is good practice on AWS; leave that "
                      "condition out for this lab.")


@exercise(
    "2.1", "a tenant-scoped access policy", ("tenant_policy",),
    hint="allow only the item actions, only on the table ARN you are given, and only while "
         "every partition key a request touches is the caller's own tenant (its session tag) "
         "or one of that tenant's shards.",
    code_hint="Action: GetItem, PutItem, UpdateItem, DeleteItem and Query by name; Resource: "
              f"table_arn; Condition: {OWN_CONDITION}; and \"Version\": \"2012-10-17\".",
)
def check_tenant_policy(tenant_policy, t: Trial) -> None:
    lab = t.lab
    table = lab.table_arn("orders")
    lab_tenants = [tenant.id for tenant in TENANTS]
    stranger = unknown_tenant(lab.identity.pool_id, lab_tenants)
    with t.case("tenant_policy returns a policy document"):
        policy = _policy(t, tenant_policy, table)
    # Case names stay the same from run to run (the progressive hints count repeats by name);
    # the tenant nobody can have hard-coded shows in the report's details instead.
    for tenant, label in (("tenant-a", "TenantID=tenant-a"), (stranger, "tenantid=<unseen>")):
        tag_key = label.split("=")[0]
        with t.case(f"a session tagged {label} may use its own partitions"):
            _judged(t, policy, q.own_partitions(table, tenant, tag_key), True,
                    hint="the tenant comes from the session's tag, not from your code: one "
                         "policy serves every tenant, and lab 1's shards (TENANT#<id>#<n>) "
                         "belong to the tenant too.",
                    code_hint="two patterns in the condition: "
                              "'TENANT#${aws:PrincipalTag/TenantID}' and "
                              "'TENANT#${aws:PrincipalTag/TenantID}#*'.")
    with t.case("the policy follows the table ARN it is given"):
        ledger = table.replace(lab.settings.name("orders"), lab.settings.name(
            stranger.replace("tenant", "ledger")))
        other = _policy(t, tenant_policy, ledger)
        hint = ("Resource is the table_arn argument, no wildcard: the same function serves "
                "other tables, and a policy built for one table must not open another.")
        _judged(t, other, q.own_partitions(ledger, "tenant-a")[:1], True, hint,
                code_hint="\"Resource\": table_arn")
        _judged(t, other, q.own_partitions(table, "tenant-a")[:1], False, hint,
                code_hint="\"Resource\": table_arn")
    products = lab.table_arn("products")
    for tenant, label in (("tenant-a", "tenant-a"), (stranger, "an unseen tenant")):
        others = [o for o in lab_tenants if o != tenant] + [tenant[:-1]]
        classes = [
            ("other tenants' partitions are denied", q.other_tenants(table, tenant, others),
             "every statement that allows an item action (batch actions and index queries "
             "included) needs the condition on dynamodb:LeadingKeys against the caller's own "
             "tag.", f"put {OWN_CONDITION} in every Allow statement."),
            ("a batch mixing its own keys with another tenant's is denied",
             q.mixed_batches(table, tenant, others[:2]),
             "dynamodb:LeadingKeys holds every partition key of the request: the condition must "
             "hold for all of them, not for any one of them.",
             "use the ForAllValues:StringLike operator (not ForAnyValue, not a bare "
             "StringLike)."),
            ("lookalike partitions (tenant-aa, tenant-a-archive, other case) are denied",
             q.lookalikes(table, tenant, others[0]),
             "a pattern that ends in a bare * also matches tenant-aa and tenant-a-archive; a "
             "leading * matches other tenants' keys that end with yours.",
             "put the separator before the star, 'TENANT#${aws:PrincipalTag/TenantID}#*', and "
             "use no other wildcard."),
            ("a Scan (no leading keys) is denied", q.scans(table, tenant),
             "ForAllValues is true when a request has no leading keys at all: a Scan, or a "
             "PartiQL SELECT without a key, passes any such condition.",
             "do not allow dynamodb:Scan, dynamodb:PartiQLSelect or dynamodb:*; list the item "
             "actions by name."),
            ("every other DynamoDB action is denied", q.other_actions(table, tenant),
             "action families (Get*, Update*), NotAction and dynamodb:* also allow table, "
             "backup, export, stream and resource-policy actions (UpdateTable, CreateBackup, "
             "ExportTableToPointInTime, PutResourcePolicy): they carry no leading keys, so the "
             "condition lets them through.",
             "\"Action\": [\"dynamodb:GetItem\", \"dynamodb:PutItem\", \"dynamodb:UpdateItem\", "
             "\"dynamodb:DeleteItem\", \"dynamodb:Query\"]"),
            ("other resources are denied (other tables, lookalike tables, other regions)",
             q.other_resources(table, tenant, [products]),
             "a wildcard in Resource ('*', or the table ARN followed directly by *) also covers "
             "other tables, tables whose names start the same, and the table in other regions.",
             "\"Resource\": table_arn (add f\"{table_arn}/index/*\" only for index queries, "
             "under the same condition)."),
        ]
        for name, questions, hint, code_hint in classes:
            with t.case(f"{label}: {name}"):
                _judged(t, policy, questions, False, hint, code_hint)
    with t.case("a session without a TenantID tag is denied everything"):
        _judged(t, policy, q.untagged(table, lab_tenants + [stranger]), False,
                hint="a session without the tag must match nothing: no default value in the "
                     "policy variable, no pattern that matches without the tag.",
                code_hint="write exactly ${aws:PrincipalTag/TenantID}, with no ', default' "
                          "inside the braces: a missing tag then matches nothing.")


@exercise(
    "2.2", "a token vending machine", ("vend_credentials",),
    hint="verify first (no claim is trusted before that), then AssumeRole on the tenant role "
         "with the tenant as a session tag, and keep one set of credentials per tenant until a "
         "few minutes before they expire, judged by the clock you are given.",
    code_hint="tenant = verify_id_token(lab.identity, id_token)['custom:tenant_id']; reuse "
              "vended[tenant] while vended[tenant]['Expiration'] - now > timedelta(minutes=5); "
              "otherwise sts.assume_role(RoleArn=TENANT_ROLE, RoleSessionName=tenant, "
              "Tags=[{'Key': 'TenantID', 'Value': tenant}])['Credentials'].",
)
def check_token_vendor(vend_credentials, t: Trial) -> None:
    require_enforcement(t.lab)
    check_vendor(t.lab, vend_credentials, t)


# --- 2.3 ---------------------------------------------------------------------------------------


@exercise(
    "2.3", "no leaks across tenants (N x N)", ("vend_credentials", "scoped_orders_table"),
    hint="build the table from a boto3 session of the vended credentials (all three parts), "
         "pointed at the lab's endpoint and region.",
    code_hint="lab.session(c) (the three parts on the lab's endpoint and region), or by "
              "hand boto3.Session(aws_access_key_id=c['AccessKeyId'], aws_secret_access_key="
              "c['SecretAccessKey'], aws_session_token=c['SessionToken'], region_name="
              "lab.settings.region).resource('dynamodb', endpoint_url=lab.settings.endpoint)"
              ".Table(lab.settings.name('orders'))",
)
def check_isolation_matrix(vend_credentials, scoped_orders_table, t: Trial) -> None:
    require_enforcement(t.lab)
    check_matrix(t.lab, vend_credentials, scoped_orders_table, t)


# --- 2.4 ---------------------------------------------------------------------------------------


PREFIX_CONDITION = "{'StringLike': {'s3:prefix': f'{tenant_id}/*'}}"


@exercise(
    "2.4", "a session policy per tenant (S3 prefix)", ("session_policy",),
    hint="name the tenant's documents (its prefix, slash included) for reading and writing, and "
         "allow listing the bucket only with a prefix inside the tenant's own; nothing else, "
         "and nothing of the role's DynamoDB rights.",
    code_hint="s3:GetObject and s3:PutObject on f'arn:aws:s3:::{bucket}/{tenant_id}/*'; "
              f"s3:ListBucket on f'arn:aws:s3:::{{bucket}}' with {PREFIX_CONDITION}.",
)
def check_session_policy(session_policy, t: Trial) -> None:
    lab = t.lab
    lab_tenants = [tenant.id for tenant in TENANTS]
    stranger = unknown_tenant(lab.identity.pool_id + "/s3", lab_tenants)
    with t.case("session_policy returns a policy document"):
        policy = _policy(t, session_policy, "tenant-a", lab.bucket)
    other_bucket = lab.settings.name(stranger.replace("tenant", "archive"))
    policies = {("tenant-a", lab.bucket): policy}
    labels = {("tenant-a", lab.bucket): "tenant-a", (stranger, other_bucket): "an unseen tenant"}
    for (tenant, bucket), label in labels.items():
        where = "the lab's bucket" if bucket == lab.bucket else "an unseen bucket"
        with t.case(f"{label} may read, write and list its own prefix in {where}"):
            if (tenant, bucket) not in policies:
                policies[tenant, bucket] = _policy(t, session_policy, tenant, bucket)
            _judged(t, policies[tenant, bucket], q.own_prefix(tenant, bucket), True,
                    role="order-service",
                    hint="objects are read and written under <bucket>/<tenant>/, and listing "
                         "is an action on the bucket's own ARN (no slash), limited by prefix; "
                         "both built from the arguments, the tenant and bucket it is given.",
                    code_hint="f'arn:aws:s3:::{bucket}/{tenant_id}/*' for the objects, "
                              f"f'arn:aws:s3:::{{bucket}}' with {PREFIX_CONDITION} for listing.")
    for (tenant, bucket), document in policies.items():
        others = [o for o in lab_tenants if o != tenant]
        classes = [
            ("other tenants' objects are denied", q.other_tenant_objects(tenant, bucket, others),
             "object ARNs must stop at the tenant's prefix: <bucket>/* (for any action, "
             "DeleteObject included) reaches every tenant.",
             "f'arn:aws:s3:::{bucket}/{tenant_id}/*' in every object statement."),
            ("listing other tenants' prefixes is denied",
             q.other_tenant_listings(tenant, bucket, others),
             "ListBucket is granted on the whole bucket; only a condition on s3:prefix keeps "
             "it to the tenant's folder.", f"Condition: {PREFIX_CONDITION}"),
            ("listing the whole bucket (no prefix, or an empty one) is denied",
             q.whole_bucket_listings(bucket),
             "a listing without a prefix, or with an empty one, shows every tenant's keys: the "
             "condition must require a prefix inside the tenant's own (IfExists and '' do not).",
             f"Condition: {PREFIX_CONDITION}, with no IfExists and no ''."),
            ("a lookalike prefix (tenant-aa/, a key without the slash) is denied",
             q.lookalike_prefixes(tenant, bucket),
             "'tenant-a*' also matches 'tenant-aa/...': end the tenant's prefix with its slash, "
             "in the object ARN and in the s3:prefix condition.",
             "f'{tenant_id}/*', never f'{tenant_id}*'."),
            ("other actions on its own objects and on the bucket are denied",
             q.other_actions_own(tenant, bucket),
             "s3:* on the tenant's prefix also allows ACLs (a public document), retention and "
             "legal holds (locked for years); on the bucket, only listing is needed.",
             "Action: ['s3:GetObject', 's3:PutObject'] (s3:DeleteObject if you need it) for "
             "objects; 's3:ListBucket' for the bucket."),
            ("other buckets are denied", q.other_buckets(tenant, bucket),
             "a wildcard in the bucket name reaches other buckets (and other companies').",
             "write the bucket's name as given: f'arn:aws:s3:::{bucket}/...'."),
            ("DynamoDB (which the role could use) is denied",
             q.dynamodb_for_session(lab.table_arn("orders")),
             "a session policy can only narrow the role; name only what this session needs, "
             "and the role's DynamoDB rights fall away.",
             "no dynamodb statements in the session policy."),
        ]
        for name, questions, hint, code_hint in classes:
            with t.case(f"{labels[tenant, bucket]}: {name}"):
                _judged(t, document, questions, False, hint, code_hint, role="order-service")
    _live(t, lab, policy)


def _live(t: Trial, lab: Lab, policy: dict) -> None:
    """The same policy as a real session policy: the account enforces what was evaluated."""
    require_enforcement(lab)
    bucket = lab.bucket
    lab.client("s3").put_object(Bucket=bucket, Key="tenant-b/contract.txt", Body=b"tenant-b's")
    with t.case("AssumeRole takes it as a session policy, and the account enforces it"):
        try:
            creds = lab.client("sts").assume_role(
                RoleArn=lab.role_arn("order-service"), RoleSessionName="docs-tenant-a",
                Policy=json.dumps(policy))["Credentials"]
        except ClientError as error:
            t.expect(False, "AssumeRole accepts the policy", error.response["Error"]["Message"],
                     hint="a session policy is passed as JSON text, at most 2048 characters.")
        s3 = lab.session(creds).client("s3")
        steps = [
            ("write tenant-a/report.txt", "allowed",
             lambda: s3.put_object(Bucket=bucket, Key="tenant-a/report.txt", Body=b"a")),
            ("read tenant-a/report.txt", "allowed",
             lambda: s3.get_object(Bucket=bucket, Key="tenant-a/report.txt")),
            ("list tenant-a/", "allowed",
             lambda: s3.list_objects_v2(Bucket=bucket, Prefix="tenant-a/")),
            ("read tenant-b/contract.txt", "denied",
             lambda: s3.get_object(Bucket=bucket, Key="tenant-b/contract.txt")),
            ("list the whole bucket (no prefix)", "denied",
             lambda: s3.list_objects_v2(Bucket=bucket)),
            ("list the bucket's folders (no prefix, delimiter '/')", "denied",
             lambda: s3.list_objects_v2(Bucket=bucket, Delimiter="/")),
            ("list tenant-b/", "denied",
             lambda: s3.list_objects_v2(Bucket=bucket, Prefix="tenant-b/")),
        ]
        for name, wanted, call in steps:
            outcome = attempt(call)
            t.expect(outcome == wanted, f"{name}: {wanted}", f"{name}: {outcome}")
