"""Lab 2's checks pass on the solution and catch each classic isolation mistake."""

from __future__ import annotations

import copy

import boto3
import jwt
import pytest
from mutants import escaped

from checks import run
from checks.notebook_code import exercise_ids, functions_for, namespace, solution_path


@pytest.fixture(scope="module")
def solution(lab):
    return namespace(solution_path(2))


@pytest.mark.parametrize("exercise", exercise_ids(2))
def test_the_solution_passes(solution, exercise):
    outcome = run(exercise, *functions_for(exercise, solution))
    assert outcome.passed, outcome.message


def policy_with(solution, **changes):
    def tenant_policy(table_arn):
        policy = copy.deepcopy(solution["tenant_policy"](table_arn))
        statement = policy["Statement"][0]
        for key, value in changes.items():
            if value is None:
                statement.pop(key, None)
            else:
                statement[key] = value(statement) if callable(value) else value
        return policy
    return tenant_policy


def mutants(s):
    lab = s["lab"]
    tag = "${aws:PrincipalTag/TenantID}"
    sts = lab.client("sts")

    def condition(*patterns):
        return {"ForAllValues:StringLike": {"dynamodb:LeadingKeys": list(patterns)}}

    def no_cache(token):
        tenant = s["verify_id_token"](lab.identity, token)["custom:tenant_id"]
        return sts.assume_role(RoleArn=s["TENANT_ROLE"], RoleSessionName=tenant,
                               Tags=[{"Key": "TenantID", "Value": tenant}])["Credentials"]

    unverified_cache: dict = {}

    def unverified(token):
        tenant = jwt.decode(token, options={"verify_signature": False})["custom:tenant_id"]
        if tenant not in unverified_cache:
            unverified_cache[tenant] = sts.assume_role(
                RoleArn=s["TENANT_ROLE"], RoleSessionName=tenant,
                Tags=[{"Key": "TenantID", "Value": tenant}])["Credentials"]
        return unverified_cache[tenant]

    untagged_cache: dict = {}

    def untagged(token):
        tenant = s["verify_id_token"](lab.identity, token)["custom:tenant_id"]
        if tenant not in untagged_cache:
            untagged_cache[tenant] = sts.assume_role(
                RoleArn=s["TENANT_ROLE"], RoleSessionName=tenant,
                Tags=[{"Key": "TenantID", "Value": "tenant-a"}])["Credentials"]
        return untagged_cache[tenant]

    def admin_table(credentials):
        return lab.table("orders")

    def session_with(**changes):
        def session_policy(tenant_id, bucket):
            policy = copy.deepcopy(s["session_policy"](tenant_id, bucket))
            for index, statement in changes.items():
                policy["Statement"][int(index[1:])] = statement(tenant_id, bucket)
            return policy
        return session_policy

    return [
        ("2.1", "allows dynamodb:* (the Scan trap)", (policy_with(s, Action="dynamodb:*"),),
         "Scan"),
        ("2.1", "a trailing star admits lookalikes",
         (policy_with(s, Condition=condition(f"TENANT#{tag}*")),), "lookalike TENANT#tenant-aa"),
        ("2.1", "forgets the sharded keys",
         (policy_with(s, Condition=condition(f"TENANT#{tag}")),), "its shard"),
        ("2.1", "hard-codes tenant-a", (policy_with(
            s, Condition=condition("TENANT#tenant-a", "TENANT#tenant-a#*")),), "tenant-c may"),
        ("2.1", "every table", (policy_with(s, Resource="*"),), "products table"),
        ("2.1", "no condition at all", (policy_with(s, Condition=None),), "TENANT#tenant-b"),
        ("2.1", "a wildcard that needs no tag", (policy_with(
            s, Condition=condition("TENANT#*")),), "TENANT#tenant-b"),
        ("2.1", "returns JSON text", (lambda arn: "{}",), "returns a policy document"),
        ("2.2", "calls STS every time", (no_cache,), "credentials for alice"),
        ("2.2", "trusts the token without verifying it", (unverified,), "refuses"),
        ("2.2", "tags every session tenant-a", (untagged,), "credentials for bob"),
        ("2.2", "returns the whole response", (lambda token: {"Credentials": {}},),
         "credentials for alice"),
        ("2.3", "signs as the administrator", (s["vend_credentials"], admin_table),
         "cross-tenant"),
        ("2.3", "a table of another name", (s["vend_credentials"], lambda creds: boto3.resource(
            "dynamodb", endpoint_url=lab.settings.endpoint, region_name="us-east-1").Table(
            "orders")), "reaches its own partition"),
        ("2.4", "a prefix without its slash", (session_with(S0=lambda t, b: {
            "Effect": "Allow", "Action": ["s3:GetObject", "s3:PutObject"],
            "Resource": f"arn:aws:s3:::{b}/{t}*"}),), "lookalike"),
        ("2.4", "lists without a prefix condition", (session_with(S1=lambda t, b: {
            "Effect": "Allow", "Action": "s3:ListBucket", "Resource": f"arn:aws:s3:::{b}"}),),
         "lists the prefix tenant-b/"),
        ("2.4", "keeps the role's DynamoDB rights", (lambda t, b: {
            **s["session_policy"](t, b), "Statement": s["session_policy"](t, b)["Statement"] + [
                {"Effect": "Allow", "Action": "dynamodb:*", "Resource": "*"}]},), "DynamoDB"),
        ("2.4", "the whole bucket", (session_with(S0=lambda t, b: {
            "Effect": "Allow", "Action": ["s3:GetObject", "s3:PutObject"],
            "Resource": f"arn:aws:s3:::{b}/*"}),), "reads tenant-b/contract.txt"),
    ]


def test_every_check_catches_its_classic_mistakes(solution):
    slipped = escaped(mutants(solution))
    assert not slipped, "\n".join(slipped)


def test_lab_2_has_its_four_exercises():
    assert exercise_ids(2) == ["2.1", "2.2", "2.3", "2.4"]
