"""Tenant context: who is calling, for which tenant, on which tier.

It is derived once, at the edge of a service, from a verified token and never
from anything else the caller sends.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class TenantContext:
    tenant_id: str
    tier: str
    user: str


class Unauthorized(Exception):
    """The request carries no acceptable proof of identity; services answer 401."""
