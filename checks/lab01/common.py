"""What lab 1's checks share: the refusals a verifier may raise, token previews."""

from __future__ import annotations

import jwt

from environment.account.tenants import TENANTS

ALICE = TENANTS[0].users[0]

# A verifier refuses by raising PyJWT's errors (or its own InvalidTokenError), a ValueError or
# a PermissionError. A KeyError, TypeError or AttributeError is a crash that happens to stop a
# token today, not a decision: the check says so (the lab text says the same).
REFUSALS: tuple[type[BaseException], ...] = (jwt.PyJWTError, ValueError, PermissionError)


def preview(token: str) -> str:
    return token if len(token) <= 40 else f"{token[:24]}...{token[-8:]} ({len(token)} chars)"
