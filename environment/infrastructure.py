"""The lab account, described as data: what exists when the environment is up.

Provisioning (``environment.provision``) reads only this module and the tenant
list, so adding a table or an attribute for a later lab is a one-line change
here rather than a new provisioning step.
"""

from __future__ import annotations

from dataclasses import dataclass

USER_POOL = "users"
APP_CLIENT = "lab-app"

# Custom attributes carried in every ID token as custom:<name>. tenant_id is
# immutable and the app client may read but never write either of them:
# otherwise a user could move themselves to another tenant with
# UpdateUserAttributes, which is a classic SaaS mistake.
CUSTOM_ATTRIBUTES: tuple[tuple[str, bool], ...] = (("tenant_id", False), ("tenant_tier", True))
READ_ATTRIBUTES = ("email", "custom:tenant_id", "custom:tenant_tier")
WRITE_ATTRIBUTES = ("email",)


@dataclass(frozen=True)
class Table:
    """A DynamoDB table with string partition and sort keys named ``pk`` and ``sk``."""

    short_name: str
    purpose: str


TABLES: tuple[Table, ...] = (
    Table("orders", "pooled orders of every tenant, keyed TENANT#<id> / ORDER#<id>"),
    Table("products", "pooled product catalogue, keyed TENANT#<id> / PRODUCT#<id>"),
)
