"""The Cognito user pools of the account: the lab's own pool, its app client and its users.

Besides the lab's pool, checks create a second one (see ``create_identity``). Teardown removes
every pool whose name carries the kit's prefix, page by page.
"""

from __future__ import annotations

from ..settings import Settings
from . import infrastructure as infra
from .identity import Identity
from .tenants import PASSWORD, TENANTS, Tenant

SERVICE = "cognito-idp"
PAGE = 60  # Cognito's largest page of pools or clients


def _pool_id(settings: Settings, pool: str = infra.USER_POOL) -> str | None:
    cognito = settings.client(SERVICE)
    return next(
        (found["Id"] for page in cognito.get_paginator("list_user_pools").paginate(
            MaxResults=PAGE) for found in page["UserPools"]
         if found["Name"] == settings.name(pool)),
        None,
    )


def find_identity(settings: Settings, pool: str = infra.USER_POOL) -> Identity | None:
    """The identity of a user pool (by its short name) and its app client, if both exist."""
    cognito = settings.client(SERVICE)
    pool_id = _pool_id(settings, pool)
    if pool_id is None:
        return None
    client_id = next(
        (c["ClientId"] for page in cognito.get_paginator("list_user_pool_clients").paginate(
            UserPoolId=pool_id, MaxResults=PAGE) for c in page["UserPoolClients"]
         if c["ClientName"] == infra.APP_CLIENT),
        None,
    )
    if client_id is None:
        return None
    return Identity(pool_id, client_id, settings.region, settings.endpoint)


def create_identity(settings: Settings, pool: str = infra.USER_POOL) -> Identity:
    """A user pool shaped like the lab's (same custom attributes, same app client settings).

    Besides the lab's own pool, checks create a second one: its tokens are genuinely signed
    (every emulated pool shares one key) but belong to another issuer and audience.
    """
    cognito = settings.client(SERVICE)
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
    cognito = settings.client(SERVICE)
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
                    {"Name": "custom:quota_rate", "Value": str(tenant.quota[0])},
                    {"Name": "custom:quota_burst", "Value": str(tenant.quota[1])},
                ],
            )
            cognito.admin_set_user_password(
                UserPoolId=identity.pool_id, Username=email, Password=PASSWORD, Permanent=True
            )


def teardown(settings: Settings) -> list[str]:
    """Delete every prefixed user pool (its clients and users go with it)."""
    cognito = settings.client(SERVICE)
    doomed = [pool for page in cognito.get_paginator("list_user_pools").paginate(
        MaxResults=PAGE) for pool in page["UserPools"] if pool["Name"].startswith(settings.prefix)]
    for pool in doomed:
        cognito.delete_user_pool(UserPoolId=pool["Id"])
    return [f"user pool {pool['Name']}" for pool in doomed]
