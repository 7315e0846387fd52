"""The requests lab 2's policies are judged on, grouped by what a wrong answer lets through.

Each function returns the questions of one class (own partitions, other
tenants, lookalikes, scans, every other action, other resources, untagged
sessions; and the same for S3 prefixes), so a check can name the class that
failed and teach about it. The expected answer for every class is fixed here:
what the exercise asks must be allowed, what it tolerates is left out of every
class, and everything else must be denied.
"""

from __future__ import annotations

from collections.abc import Iterable

import botocore.session

from environment.emulator.iam.calls import Call
from environment.emulator.iam.requests import authorizations

from .policy_space import Question, actions_of

# --- DynamoDB (exercise 2.1) -------------------------------------------------------------------

REQUIRED_ITEM_ACTIONS = ("GetItem", "PutItem", "UpdateItem", "DeleteItem", "Query")
# Harmless on the caller's own keys: the prose allows them, so no class below contains them
# with own keys. They carry leading keys like the required ones.
TOLERATED_ITEM_ACTIONS = ("BatchGetItem", "BatchWriteItem", "ConditionCheckItem",
                          "PartiQLSelect", "PartiQLInsert", "PartiQLUpdate", "PartiQLDelete")
KEYED = tuple(f"dynamodb:{a}" for a in REQUIRED_ITEM_ACTIONS + TOLERATED_ITEM_ACTIONS)
INDEX = "by-customer"  # an index name no lab table has: the policy must not need to know it


def dynamodb_actions() -> tuple[str, ...]:
    """Every DynamoDB action: the API's, its streams', and the IAM-only item actions."""
    return tuple(sorted(set(actions_of("dynamodb", "dynamodbstreams")) | set(KEYED)))


# Other keys an item request brings along: a condition on them alone isolates nobody.
REQUEST_DETAILS = ({}, {"dynamodb:Select": "SPECIFIC_ATTRIBUTES",
                        "dynamodb:Attributes": ["pk", "sk"], "dynamodb:ReturnValues": "NONE"})


def _keyed(tenant: str, resources: Iterable[str], keys: Iterable[list[str]],
           tags: dict[str, str] | None = None,
           details: Iterable[dict] = REQUEST_DETAILS[:1]) -> list[Question]:
    tags = {"TenantID": tenant} if tags is None else tags
    return [Question(action, resource, {"dynamodb:LeadingKeys": key, **detail}, tags)
            for action in KEYED for resource in resources for key in keys
            for detail in details]


def own_partitions(table: str, tenant: str, tag_key: str = "TenantID") -> list[Question]:
    """Must be allowed: the five item actions on the tenant's partition and on a shard of it."""
    return [Question(f"dynamodb:{action}", table, {"dynamodb:LeadingKeys": [key]},
                     {tag_key: tenant})
            for action in REQUIRED_ITEM_ACTIONS
            for key in (f"TENANT#{tenant}", f"TENANT#{tenant}#3")]


def other_tenants(table: str, tenant: str, others: Iterable[str]) -> list[Question]:
    keys = [[f"TENANT#{o}{shard}"] for o in others for shard in ("", "#2")]
    return _keyed(tenant, (table, f"{table}/index/{INDEX}"), keys, details=REQUEST_DETAILS)


def mixed_batches(table: str, tenant: str, others: Iterable[str]) -> list[Question]:
    keys = [[f"TENANT#{tenant}", f"TENANT#{o}"] for o in others]
    return _keyed(tenant, (table, f"{table}/index/{INDEX}"), keys)


def lookalikes(table: str, tenant: str, other: str) -> list[Question]:
    """Keys that share a prefix or a suffix with the tenant's own, or differ only in case."""
    keys = [f"TENANT#{tenant}a", f"TENANT#{tenant}a#1", f"TENANT#{tenant}-archive",
            f"TENANT#{tenant[:-1]}", f"TENANT#{other}#{tenant}", "TENANT#", f"tenant#{tenant}",
            f"TENANT#{tenant.upper()}", tenant, ""]
    return _keyed(tenant, (table, f"{table}/index/{INDEX}"), [[k] for k in keys])


SCAN_PROJECTIONS = ({}, {"ProjectionExpression": "pk"},
                    {"ProjectionExpression": "#k, sk", "ExpressionAttributeNames": {"#k": "pk"}},
                    {"AttributesToGet": ["pk"]}, {"ProjectionExpression": "sk"},
                    {"ProjectionExpression": "tenant_id"})


def scans(table: str, tenant: str) -> list[Question]:
    """Requests without leading keys that read every tenant: a Scan with every Select of the
    service model, with and without a projection (even the keys alone name every tenant), on
    the table and an index, as the gate itself reads them; and a PartiQL SELECT without a key."""
    tags = {"TenantID": tenant}
    region, name = table.split(":")[3], table.rsplit("/", 1)[-1]
    model = botocore.session.get_session().get_service_model("dynamodb")
    selects = (None, *model.operation_model("Scan").input_shape.members["Select"].enum)
    found = []
    for index in (None, INDEX):
        for select in selects:
            for projection in SCAN_PROJECTIONS:
                params = {"TableName": name, **projection,
                          **({"Select": select} if select else {}),
                          **({"IndexName": index} if index else {})}
                call = Call("dynamodb", "Scan", "json", params=params, region=region)
                found += [Question(r.action, r.resource, dict(r.context), tags)
                          for r in authorizations(call, lambda *args: "pk")]
    partiql = ({}, {"dynamodb:Attributes": ["pk"]})
    return found + [Question("dynamodb:PartiQLSelect", resource, context, tags)
                    for resource in (table, f"{table}/index/{INDEX}") for context in partiql]


def table_resources(table: str) -> list[str]:
    """The ARNs that live under a table: indexes, streams, backups, exports, imports."""
    return [table, f"{table}/index/{INDEX}", f"{table}/stream/2026-01-01T00:00:00.000",
            f"{table}/backup/01767225600000-5b2c1d3e", f"{table}/export/01767225600000-5b2c1d3e",
            f"{table}/import/01767225600000-5b2c1d3e"]


def other_actions(table: str, tenant: str) -> list[Question]:
    """Every action but the item ones, as AWS asks them: with no leading keys."""
    tags = {"TenantID": tenant}
    return [Question(action, resource, {}, tags)
            for action in dynamodb_actions() if action not in KEYED
            for resource in table_resources(table) + ["*"]]


def other_resources(table: str, tenant: str, others: Iterable[str]) -> list[Question]:
    """Own keys, but on another table, a lookalike table, or in another region.

    The ARNs under the table (streams, backups) are left to ``other_actions``: an item action
    allowed on them would grant nothing, so ``<table ARN>/*`` is no mistake for item actions.
    """
    region = table.split(":")[3]
    resources = [*others, f"{table}-archive", f"{table}2",
                 table.replace(f":{region}:", ":eu-west-1:"),
                 table.replace(":table/", ":global-table/")]
    keys = [[f"TENANT#{tenant}"], [f"TENANT#{tenant}#3"]]
    return _keyed(tenant, resources, keys)


def untagged(table: str, tenants: Iterable[str]) -> list[Question]:
    """A session without the tag must reach nothing, whatever key it asks for."""
    keys = [[f"TENANT#{t}{shard}"] for t in tenants for shard in ("", "#1")] + [["TENANT#"]]
    return [q for tags in ({}, {"Tenant": "tenant-a"})
            for q in _keyed("", (table,), keys, tags)]


# --- S3 (exercise 2.4) -------------------------------------------------------------------------

OBJECT_READ_WRITE = ("s3:GetObject", "s3:PutObject")
# What a tenant may also do to its own documents without harming anyone (the prose says so).
TOLERATED_OBJECT_ACTIONS = (
    "s3:DeleteObject", "s3:GetObjectVersion", "s3:DeleteObjectVersion", "s3:GetObjectTagging",
    "s3:PutObjectTagging", "s3:DeleteObjectTagging", "s3:GetObjectAttributes",
    "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts", "s3:RestoreObject",
    "s3:GetObjectVersionTagging", "s3:GetObjectVersionAttributes")
LISTING = ("s3:ListBucket", "s3:ListBucketVersions", "s3:ListBucketMultipartUploads")
EXTRA_S3_ACTIONS = ("s3:ListBucket", "s3:ListBucketVersions", "s3:ListBucketMultipartUploads",
                    "s3:ListMultipartUploadParts", "s3:ListAllMyBuckets", "s3:GetObjectVersion",
                    "s3:DeleteObjectVersion", "s3:PutObjectVersionAcl", "s3:GetObjectVersionAcl",
                    "s3:GetObjectVersionTagging", "s3:GetObjectVersionAttributes",
                    "s3:BypassGovernanceRetention", "s3:PutBucketObjectLockConfiguration")


# S3 operations whose IAM action has another name (the rest are named as they are called).
S3_IAM_NAMES = (
    ("HeadObject", "GetObject"), ("SelectObjectContent", "GetObject"), ("CopyObject", "PutObject"),
    ("CreateMultipartUpload", "PutObject"), ("UploadPart", "PutObject"),
    ("UploadPartCopy", "PutObject"), ("CompleteMultipartUpload", "PutObject"),
    ("DeleteObjects", "DeleteObject"), ("HeadBucket", "ListBucket"), ("ListObjects", "ListBucket"),
    ("ListObjectsV2", "ListBucket"), ("ListObjectVersions", "ListBucketVersions"),
    ("ListMultipartUploads", "ListBucketMultipartUploads"),
    ("ListParts", "ListMultipartUploadParts"), ("ListBuckets", "ListAllMyBuckets"),
    ("ListDirectoryBuckets", "ListAllMyBuckets"),
    ("GetObjectLockConfiguration", "GetBucketObjectLockConfiguration"),
    ("PutObjectLockConfiguration", "PutBucketObjectLockConfiguration"),
    ("GetPublicAccessBlock", "GetBucketPublicAccessBlock"),
    ("PutPublicAccessBlock", "PutBucketPublicAccessBlock"),
    ("DeletePublicAccessBlock", "PutBucketPublicAccessBlock"),
    ("GetBucketLifecycleConfiguration", "GetLifecycleConfiguration"),
    ("PutBucketLifecycleConfiguration", "PutLifecycleConfiguration"),
    ("GetBucketEncryption", "GetEncryptionConfiguration"),
    ("PutBucketEncryption", "PutEncryptionConfiguration"),
    ("GetBucketReplication", "GetReplicationConfiguration"),
    ("PutBucketReplication", "PutReplicationConfiguration"))


def s3_actions() -> tuple[str, ...]:
    """Every S3 API operation as its IAM action, plus the IAM actions that are not API names."""
    return tuple(sorted(set(actions_of("s3", renamed=S3_IAM_NAMES)) | set(EXTRA_S3_ACTIONS)))


def _objects(bucket: str, keys: Iterable[str], actions: Iterable[str]) -> list[Question]:
    return [Question(action, f"arn:aws:s3:::{bucket}/{key}") for action in actions
            for key in keys]


# A listing with a delimiter and no prefix names every tenant's folder (CommonPrefixes).
LISTING_DETAILS = ({}, {"s3:delimiter": "/"}, {"s3:max-keys": "1000"})


def _listings(bucket: str, prefixes: Iterable[str | None]) -> list[Question]:
    return [Question(action, f"arn:aws:s3:::{bucket}",
                     {**detail, **({} if prefix is None else {"s3:prefix": prefix})})
            for action in LISTING for prefix in prefixes for detail in LISTING_DETAILS]


def own_prefix(tenant: str, bucket: str) -> list[Question]:
    """Must be allowed: read and write the tenant's documents, list its prefix."""
    return (_objects(bucket, (f"{tenant}/report.txt", f"{tenant}/2026/q1.csv"),
                     OBJECT_READ_WRITE)
            + [Question("s3:ListBucket", f"arn:aws:s3:::{bucket}", {"s3:prefix": f"{tenant}/"})])


def other_tenant_objects(tenant: str, bucket: str, others: Iterable[str]) -> list[Question]:
    keys = [f"{o}/contract.txt" for o in others] + ["readme.txt", f"{next(iter(others))}/"
                                                    f"{tenant}/planted.txt"]
    return _objects(bucket, keys, s3_actions())


def other_tenant_listings(tenant: str, bucket: str, others: Iterable[str]) -> list[Question]:
    return _listings(bucket, [f"{o}/" for o in others] + [f"{o}/{tenant}/" for o in others])


def whole_bucket_listings(bucket: str) -> list[Question]:
    return _listings(bucket, (None, "", "/"))


def lookalike_prefixes(tenant: str, bucket: str) -> list[Question]:
    keys = [f"{tenant}a/contract.txt", tenant, f"{tenant}-archive.txt", f"{tenant.upper()}/x"]
    prefixes = [tenant, f"{tenant}a/", f"{tenant}a", tenant[:-1], f"{tenant.upper()}/"]
    return _objects(bucket, keys, s3_actions()) + _listings(bucket, prefixes)


def _object_level(action: str) -> bool:
    return "Bucket" not in action and (
        "Object" in action or "Multipart" in action or action.endswith(("Part", "Parts")))


def _harmless_on_own(action: str) -> bool:
    """Reading, writing, deleting and tagging one's own documents; reading their metadata."""
    return (action in OBJECT_READ_WRITE or action in TOLERATED_OBJECT_ACTIONS
            or action.startswith("s3:GetObject"))


def other_actions_own(tenant: str, bucket: str) -> list[Question]:
    """On its own documents, nothing that changes who may read them or how long they are
    locked (ACLs, retention, legal holds); on the bucket, only listing."""
    objects = _objects(bucket, (f"{tenant}/report.txt",),
                       [a for a in s3_actions() if _object_level(a) and not _harmless_on_own(a)])
    on_bucket = [Question(action, f"arn:aws:s3:::{bucket}", context)
                 for action in s3_actions() if action not in LISTING
                 for context in ({}, {"s3:prefix": f"{tenant}/"})]
    return objects + on_bucket


def other_buckets(tenant: str, bucket: str) -> list[Question]:
    lookalike = f"{bucket}-archive"
    keys = [f"{tenant}/report.txt"]
    return (_objects(lookalike, keys, s3_actions()) + _objects("another-company", keys,
                                                               OBJECT_READ_WRITE)
            + _listings(lookalike, (f"{tenant}/", None))
            + [Question(action, resource) for action in s3_actions()
               for resource in ("*", f"arn:aws:s3:::{lookalike}")])


def dynamodb_for_session(table: str) -> list[Question]:
    """A session policy for documents must not pass on the role's DynamoDB rights."""
    contexts = ({}, {"dynamodb:LeadingKeys": ["TENANT#tenant-a"]})
    return [Question(action, resource, context) for action in dynamodb_actions()
            for resource in (table, "*") for context in contexts]
