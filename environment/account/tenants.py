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
    name: str
    deployment: str  # "pool" (shared services and tables) or "silo" (dedicated)


@dataclass(frozen=True)
class Tenant:
    id: str
    name: str
    tier: str
    users: tuple[str, ...]

    @property
    def deployment(self) -> str:
        return TIERS[self.tier].deployment


TIERS = {
    "basic": Tier("basic", "pool"),
    "advanced": Tier("advanced", "pool"),
    "premium": Tier("premium", "silo"),
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
