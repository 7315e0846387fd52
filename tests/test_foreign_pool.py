"""A second user pool whose genuine tokens every verifier must refuse."""

from __future__ import annotations

import jwt
import pytest

from checks.foreign import foreign_id_token
from environment.app.auth import verify_id_token
from environment.lab import Lab


def test_a_foreign_pool_token_is_genuinely_signed_but_refused_by_the_reference_verifier(lab: Lab):
    token = foreign_id_token(lab)
    claims = jwt.decode(token, options={"verify_signature": False})
    assert claims["custom:tenant_id"] == "tenant-a"
    assert claims["iss"] != lab.identity.issuer
    key = jwt.PyJWKClient(lab.identity.jwks_url).get_signing_key_from_jwt(token).key
    jwt.decode(token, key, algorithms=["RS256"], options={"verify_aud": False})
    with pytest.raises(jwt.PyJWTError):
        verify_id_token(lab.identity, token)
    assert jwt.decode(foreign_id_token(lab), options={"verify_signature": False})["iss"] == \
        claims["iss"]  # the second call reuses the pool
