"""Genuine tokens that must still be refused: they come from another user pool.

On the emulator every user pool signs with the same key, as a pool of another
AWS account would sign with a key the verifier can also fetch. A token of such
a pool passes a signature-only verification; only the issuer and audience
checks refuse it. The foreign pool holds a user who claims tenant-a, so a
verifier that skips those checks hands out tenant-a's context.
"""

from __future__ import annotations

from environment.account import pools
from environment.account.identity import Identity, sign_in
from environment.account.tenants import TENANTS, Tenant
from environment.lab import Lab

FOREIGN_POOL = "check-foreign-users"
IMPOSTOR = Tenant(TENANTS[0].id, "impostor of tenant-a", TENANTS[0].tier,
                  ("mallory@foreign.example.com",))


def foreign_identity(lab: Lab) -> Identity:
    """The foreign pool and its app client, created on first use (checks only, never labs)."""
    identity = pools.find_identity(lab.settings, FOREIGN_POOL)
    if identity is None:
        identity = pools.create_identity(lab.settings, FOREIGN_POOL)
        pools.ensure_users(lab.settings, identity, (IMPOSTOR,))
    return identity


def foreign_id_token(lab: Lab) -> str:
    """A genuinely signed ID token whose ``custom:tenant_id`` is tenant-a, from another pool."""
    identity = foreign_identity(lab)
    return sign_in(lab.settings, identity, IMPOSTOR.users[0], lab.password)["IdToken"]
