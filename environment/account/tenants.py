"""The tenants of the sample SaaS, as the reference workshop has them.

Ids, tiers, users and the password are fixed so that every notebook shows the
same output on every machine. tenant-c is premium and gets a dedicated (silo)
deployment in later labs; the others share the pool.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import LabError

PASSWORD = "Lab-Passw0rd!"  # one password for every lab user; this is a lab, not production


@dataclass(frozen=True)
class Tier:
    """A tier: where its tenants run and the request quota every one of its tenants gets.

    The quota is the serverless SaaS workshop's usage plan (basic 50 requests/s, burst 50;
    standard 75/100; platinum 300/300) scaled down tenfold for a laptop. It travels in every ID
    token (``custom:quota_rate``, ``custom:quota_burst``) so a router can throttle without a
    lookup, and it is read-only for the app client, like the tenant id.
    """

    name: str
    deployment: str  # "pool" (shared services and tables) or "silo" (dedicated)
    quota_rate: int = 5  # requests per second a tenant's bucket refills with
    quota_burst: int = 5  # the bucket's capacity: requests a tenant may send at once


@dataclass(frozen=True)
class Tenant:
    id: str
    name: str
    tier: str
    users: tuple[str, ...]

    @property
    def deployment(self) -> str:
        return TIERS[self.tier].deployment

    @property
    def deployment_name(self) -> str:
        """The deployment that serves the tenant: ``pool``, or its own ``silo-<tenant id>``."""
        return "pool" if self.deployment == "pool" else f"silo-{self.id}"

    @property
    def quota(self) -> tuple[int, int]:
        """(requests per second, burst) of the tenant's tier."""
        tier = TIERS[self.tier]
        return tier.quota_rate, tier.quota_burst


TIERS = {
    "basic": Tier("basic", "pool", quota_rate=5, quota_burst=5),
    "advanced": Tier("advanced", "pool", quota_rate=8, quota_burst=10),
    "premium": Tier("premium", "silo", quota_rate=30, quota_burst=30),
}

TENANTS: tuple[Tenant, ...] = (
    Tenant("tenant-a", "Alpha Analytics", "basic",
           ("alice@tenant-a.example.com", "arthur@tenant-a.example.com")),
    Tenant("tenant-b", "Beta Bikes", "advanced",
           ("bob@tenant-b.example.com", "bella@tenant-b.example.com")),
    Tenant("tenant-c", "Gamma Games", "premium",
           ("carol@tenant-c.example.com", "chris@tenant-c.example.com")),
    Tenant("tenant-d", "Delta Dental", "basic",
           ("dave@tenant-d.example.com", "diana@tenant-d.example.com")),
)


def tenant(tenant_id: str) -> Tenant:
    for candidate in TENANTS:
        if candidate.id == tenant_id:
            return candidate
    known = ", ".join(t.id for t in TENANTS)
    raise LabError(f"There is no tenant {tenant_id!r} in the lab.", f"use one of: {known}.")


def user(email: str) -> tuple[Tenant, str]:
    """The tenant a user belongs to, for tests and checks that sign in as someone."""
    for candidate in TENANTS:
        if email in candidate.users:
            return candidate, email
    raise LabError(f"There is no lab user {email!r}.",
                   "lab users are listed by `python -m environment status`.")
