"""The kit's own token verification, used by the sample services and by the checks.

Learners write the same thing in lab 1; the checks need a verifier they can
trust to tell whether a learner's sign-in returned a genuine token, and later
labs need services that already verify. Each verifier caches the JWKS, so
verifying costs one RSA signature check once the keys are loaded.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from typing import Any

import jwt

from ..account.identity import Identity
from .context import TenantContext, Unauthorized

REQUIRED_CLAIMS = ["exp", "iat", "iss", "aud", "token_use"]


@lru_cache(maxsize=16)
def jwks_client(jwks_url: str) -> jwt.PyJWKClient:
    return jwt.PyJWKClient(jwks_url, cache_keys=True, lifespan=3600, timeout=5)


def verify_id_token(identity: Identity, token: str) -> dict[str, Any]:
    """Claims of a genuine, unexpired ID token of this pool's app client, or InvalidTokenError."""
    key = jwks_client(identity.jwks_url).get_signing_key_from_jwt(token)
    claims = jwt.decode(
        token, key.key, algorithms=["RS256"], audience=identity.client_id,
        issuer=identity.issuer, options={"require": REQUIRED_CLAIMS},
    )
    if claims.get("token_use") != "id":
        raise jwt.InvalidTokenError("not an ID token (token_use is not 'id')")
    return claims


def tenant_context_from_claims(claims: Mapping[str, Any]) -> TenantContext:
    tenant_id = claims.get("custom:tenant_id")
    tier = claims.get("custom:tenant_tier")
    if not tenant_id or not tier:
        raise Unauthorized("the token carries no tenant (custom:tenant_id / custom:tenant_tier)")
    return TenantContext(tenant_id=tenant_id, tier=tier, user=claims.get("cognito:username", ""))


def bearer_token(headers: Mapping[str, str]) -> str:
    scheme, _, token = (headers.get("Authorization") or "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("expected an 'Authorization: Bearer <ID token>' header")
    return token.strip()


def tenant_resolver(identity: Identity):
    """The default resolver for services: context only from a verified bearer token."""

    def resolve(request) -> TenantContext:
        try:
            claims = verify_id_token(identity, bearer_token(request.headers))
        except jwt.PyJWTError as error:
            raise Unauthorized(f"invalid token: {error}") from error
        return tenant_context_from_claims(claims)

    return resolve
