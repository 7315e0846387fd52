"""Make the lab account match ``infrastructure`` and ``tenants``, idempotently.

It only uses public AWS APIs through boto3, so the same code provisions the
embedded emulator, LocalStack or a real account. On the embedded emulator it
seeds moto's random generator before creating anything, so that pool ids,
client ids and user ``sub`` claims are the same on every machine and after
every reset (notebook outputs depend on it).
"""

from __future__ import annotations

from ..errors import LabError
from ..kit_api import kit_request
from ..settings import EMULATOR_ACCOUNT, Settings
from . import infrastructure as infra
from .identity import Identity
from .tenants import PASSWORD, TENANTS, Tenant

SEED = 4566
SERVICES = ("cognito-idp", "dynamodb", "iam", "s3", "sts")  # what provisioning talks to


def prepare_clients(settings: Settings) -> None:
    """Build (and cache) the boto3 clients provisioning needs; see emulator.ensure_running."""
    for service in SERVICES:
        settings.client(service)


def seed(settings: Settings) -> None:
    kit_request(settings, "POST", "/moto-api/seed", {"a": SEED}, timeout=5).raise_for_status()


def reset(settings: Settings) -> Identity:
    """Back to the provisioned state: everything the labs wrote is gone."""
    if settings.embedded:
        kit_request(settings, "POST", "/moto-api/reset").raise_for_status()
    else:
        teardown(settings)
    return ensure(settings)


def _pool_id(settings: Settings, pool: str = infra.USER_POOL) -> str | None:
    cognito = settings.client("cognito-idp")
    return next(
        (found["Id"] for page in cognito.get_paginator("list_user_pools").paginate(MaxResults=60)
         for found in page["UserPools"] if found["Name"] == settings.name(pool)),
        None,
    )


def find_identity(settings: Settings, pool: str = infra.USER_POOL) -> Identity | None:
    """The identity of a user pool (by its short name) and its app client, if both exist."""
    cognito = settings.client("cognito-idp")
    pool_id = _pool_id(settings, pool)
    if pool_id is None:
        return None
    clients = cognito.list_user_pool_clients(UserPoolId=pool_id, MaxResults=60)
    client_id = next((c["ClientId"] for c in clients["UserPoolClients"]
                      if c["ClientName"] == infra.APP_CLIENT), None)
    if client_id is None:
        return None
    return Identity(pool_id, client_id, settings.region, settings.endpoint)


def ensure(settings: Settings) -> Identity:
    """Create whatever is missing and return the identity settings of the lab."""
    try:
        identity = find_identity(settings)
        if identity is None:
            if settings.embedded:
                seed(settings)
            identity = create_identity(settings)
        ensure_users(settings, identity)
        _ensure_tables(settings)
        _ensure_roles(settings)
        _ensure_bucket(settings)
    except LabError:
        raise
    except Exception as error:  # boto3's errors are many; all mean the same to a learner here
        raise LabError(
            f"Provisioning the lab account at {settings.target} failed: {error}",
            "for LocalStack, note that Cognito needs its paid edition; for AWS, check "
            "your credentials and region. `make env-reset` rebuilds the embedded account.",
        ) from error
    return identity


def create_identity(settings: Settings, pool: str = infra.USER_POOL) -> Identity:
    """A user pool shaped like the lab's (same custom attributes, same app client settings).

    Besides the lab's own pool, checks create a second one: its tokens are genuinely signed
    (every emulated pool shares one key) but belong to another issuer and audience.
    """
    cognito = settings.client("cognito-idp")
    pool_id = _pool_id(settings, pool) or cognito.create_user_pool(
        PoolName=settings.name(pool),
        Schema=[
            {"Name": name, "AttributeDataType": "String", "Mutable": mutable,
             "StringAttributeConstraints": {"MinLength": "1", "MaxLength": "64"}}
            for name, mutable in infra.CUSTOM_ATTRIBUTES
        ],
        Policies={"PasswordPolicy": {"MinimumLength": 8}},
    )["UserPool"]["Id"]
    client_id = cognito.create_user_pool_client(
        UserPoolId=pool_id,
        ClientName=infra.APP_CLIENT,
        GenerateSecret=False,
        ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
        ReadAttributes=list(infra.READ_ATTRIBUTES),
        WriteAttributes=list(infra.WRITE_ATTRIBUTES),
    )["UserPoolClient"]["ClientId"]
    return Identity(pool_id, client_id, settings.region, settings.endpoint)


def ensure_users(settings: Settings, identity: Identity,
                 tenants: tuple[Tenant, ...] = TENANTS) -> None:
    """Create the tenants' users in a pool, with their tenant attributes and the lab password."""
    cognito = settings.client("cognito-idp")
    existing = {
        user["Username"]
        for page in cognito.get_paginator("list_users").paginate(UserPoolId=identity.pool_id)
        for user in page["Users"]
    }
    for tenant in tenants:
        for email in tenant.users:
            if email in existing:
                continue
            cognito.admin_create_user(
                UserPoolId=identity.pool_id,
                Username=email,
                MessageAction="SUPPRESS",
                TemporaryPassword=PASSWORD,
                UserAttributes=[
                    {"Name": "email", "Value": email},
                    {"Name": "email_verified", "Value": "true"},
                    {"Name": "custom:tenant_id", "Value": tenant.id},
                    {"Name": "custom:tenant_tier", "Value": tenant.tier},
                ],
            )
            cognito.admin_set_user_password(
                UserPoolId=identity.pool_id, Username=email, Password=PASSWORD, Permanent=True
            )


def _ensure_tables(settings: Settings) -> None:
    dynamodb = settings.client("dynamodb")
    existing = set(dynamodb.list_tables()["TableNames"])
    for table in infra.TABLES:
        name = settings.name(table.short_name)
        if name not in existing:
            create_table(settings, name)


def account_id(settings: Settings) -> str:
    """The account's id; the embedded emulator's is fixed, which saves a call at start-up."""
    if settings.embedded:
        return EMULATOR_ACCOUNT
    return settings.client("sts").get_caller_identity()["Account"]


def _ensure_roles(settings: Settings) -> None:
    iam = settings.client("iam")
    account = account_id(settings)
    existing = {r["RoleName"] for page in iam.get_paginator("list_roles").paginate()
                for r in page["Roles"]}
    for role in infra.ROLES:
        name = settings.name(role.short_name)
        if name not in existing:
            iam.create_role(RoleName=name, Description=role.purpose,
                            AssumeRolePolicyDocument=infra.render(role.trust, account,
                                                                  settings.prefix))
        for policy_name, document in role.policies.items():
            iam.put_role_policy(RoleName=name, PolicyName=policy_name,
                                PolicyDocument=infra.render(document, account, settings.prefix))


def _ensure_bucket(settings: Settings) -> None:
    s3 = settings.client("s3")
    name = settings.name(infra.BUCKET)
    if name not in {b["Name"] for b in s3.list_buckets().get("Buckets", [])}:
        s3.create_bucket(Bucket=name)


def create_table(settings: Settings, name: str) -> None:
    """A pay-per-request table with string keys ``pk`` and ``sk``, ready when this returns."""
    dynamodb = settings.client("dynamodb")
    dynamodb.create_table(
        TableName=name,
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                              {"AttributeName": "sk", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"},
                   {"AttributeName": "sk", "KeyType": "RANGE"}],
        BillingMode="PAY_PER_REQUEST",
        Tags=[{"Key": "lab", "Value": settings.prefix.rstrip("-")}],
    )
    dynamodb.get_waiter("table_exists").wait(TableName=name,
                                             WaiterConfig={"Delay": 1, "MaxAttempts": 30})


def teardown(settings: Settings) -> list[str]:
    """Delete every resource the kit created (by name prefix). Returns what was deleted.

    On a real account this is the clean-up the reference workshop lacked.
    """
    deleted: list[str] = []
    dynamodb = settings.client("dynamodb")
    for name in dynamodb.list_tables()["TableNames"]:
        if name.startswith(settings.prefix):
            dynamodb.delete_table(TableName=name)
            deleted.append(f"table {name}")
    cognito = settings.client("cognito-idp")
    for pool in cognito.list_user_pools(MaxResults=60)["UserPools"]:
        if pool["Name"].startswith(settings.prefix):
            cognito.delete_user_pool(UserPoolId=pool["Id"])
            deleted.append(f"user pool {pool['Name']}")
    iam = settings.client("iam")
    for role in iam.list_roles()["Roles"]:
        if role["RoleName"].startswith(settings.prefix):
            for policy in iam.list_role_policies(RoleName=role["RoleName"])["PolicyNames"]:
                iam.delete_role_policy(RoleName=role["RoleName"], PolicyName=policy)
            iam.delete_role(RoleName=role["RoleName"])
            deleted.append(f"role {role['RoleName']}")
    s3 = settings.resource("s3")
    for bucket in s3.buckets.all():
        if bucket.name.startswith(settings.prefix):
            bucket.objects.all().delete()
            bucket.delete()
            deleted.append(f"bucket {bucket.name}")
    return deleted
