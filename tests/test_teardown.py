"""Teardown removes every prefixed resource of each kind, past the first page, and nothing else."""

from __future__ import annotations

import json
from dataclasses import replace

from environment.account import pools, provision
from environment.account.infrastructure import BUCKET

TABLES, ROLES = 101, 101  # one more than moto's first page of each listing
POOLS = 5  # with pages of 4 (creating a pool takes a tenth of a second)
TRUST = json.dumps({"Version": "2012-10-17", "Statement": [{
    "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::123456789012:root"},
    "Action": "sts:AssumeRole"}]})
POLICY = json.dumps({"Version": "2012-10-17", "Statement": [{
    "Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]})


def test_teardown_reads_every_page_and_spares_other_prefixes(lab, settings, monkeypatch):
    monkeypatch.setattr(pools, "PAGE", POOLS - 1)
    other = replace(settings, prefix="teardown-test-")
    dynamodb, iam = other.client("dynamodb"), other.client("iam")
    cognito, s3 = other.client("cognito-idp"), other.client("s3")
    for n in range(TABLES):
        dynamodb.create_table(TableName=other.name(f"t{n:03}"), BillingMode="PAY_PER_REQUEST",
                              AttributeDefinitions=[{"AttributeName": "pk",
                                                     "AttributeType": "S"}],
                              KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}])
    for n in range(ROLES):
        iam.create_role(RoleName=other.name(f"r{n:03}"), AssumeRolePolicyDocument=TRUST)
    iam.put_role_policy(RoleName=other.name("r000"), PolicyName="inline",
                        PolicyDocument=POLICY)
    for n in range(POOLS):
        cognito.create_user_pool(PoolName=other.name(f"p{n:03}"))
    s3.create_bucket(Bucket=other.name(BUCKET))
    for n in range(3):
        s3.put_object(Bucket=other.name(BUCKET), Key=f"k{n}", Body=b"x")

    deleted = provision.teardown(other)

    assert len(deleted) == TABLES + ROLES + POOLS + 1
    assert not [n for n in dynamodb.get_paginator("list_tables").paginate().build_full_result()[
        "TableNames"] if n.startswith(other.prefix)]
    assert not [r for r in iam.get_paginator("list_roles").paginate().build_full_result()["Roles"]
                if r["RoleName"].startswith(other.prefix)]
    assert not [p for p in cognito.get_paginator("list_user_pools").paginate(
        MaxResults=60).build_full_result()["UserPools"] if p["Name"].startswith(other.prefix)]
    assert other.name(BUCKET) not in {b["Name"] for b in s3.list_buckets()["Buckets"]}
    assert pools.find_identity(settings) == lab.identity, "the lab's own prefix is spared"
    assert {settings.name("orders"), settings.name("products")} <= set(
        dynamodb.list_tables()["TableNames"])
