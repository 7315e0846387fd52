"""The account's IAM roles (``infrastructure.ROLES``): trust and inline policies, kept current.

``ensure`` rewrites the inline policies of existing roles too, so a reset undoes what a lab
attached. Teardown deletes a role's inline and managed policy attachments first, as IAM
requires.
"""

from __future__ import annotations

from ..settings import Settings
from . import infrastructure as infra
from .whoami import account_id

SERVICE = "iam"


def _names(settings: Settings) -> list[str]:
    iam = settings.client(SERVICE)
    return [role["RoleName"] for page in iam.get_paginator("list_roles").paginate()
            for role in page["Roles"]]


def ensure(settings: Settings) -> None:
    iam = settings.client(SERVICE)
    account = account_id(settings)
    existing = set(_names(settings))
    for role in infra.ROLES:
        name = settings.name(role.short_name)
        if name not in existing:
            iam.create_role(RoleName=name, Description=role.purpose,
                            AssumeRolePolicyDocument=infra.render(role.trust, account,
                                                                  settings.prefix))
        for policy_name, document in role.policies.items():
            iam.put_role_policy(RoleName=name, PolicyName=policy_name,
                                PolicyDocument=infra.render(document, account, settings.prefix))


def teardown(settings: Settings) -> list[str]:
    """Delete every prefixed role, after its inline policies and managed attachments."""
    iam = settings.client(SERVICE)
    doomed = [name for name in _names(settings) if name.startswith(settings.prefix)]
    for name in doomed:
        for page in iam.get_paginator("list_role_policies").paginate(RoleName=name):
            for policy in page["PolicyNames"]:
                iam.delete_role_policy(RoleName=name, PolicyName=policy)
        for page in iam.get_paginator("list_attached_role_policies").paginate(RoleName=name):
            for attached in page["AttachedPolicies"]:
                iam.detach_role_policy(RoleName=name, PolicyArn=attached["PolicyArn"])
        iam.delete_role(RoleName=name)
    return [f"role {name}" for name in doomed]
