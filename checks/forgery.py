"""Forged and broken tokens, the hostile half of every token check.

Some forgeries need a key the attacker should not have: moto signs every
pool's tokens with one RSA key that ships inside the moto package. That is a
gift for a grader (it can mint an expired or wrongly addressed token that is
otherwise genuine) and a lesson for lab 1: on the emulator, a token from
*another* pool verifies against our keys, so checking ``iss`` and ``aud`` is
what stops it. On LocalStack or AWS those cases are skipped.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import hmac
import json
import time
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def segments(token: str) -> tuple[dict, dict]:
    header = jwt.get_unverified_header(token)
    payload = jwt.decode(token, options={"verify_signature": False})
    return header, payload


def unsigned(header: dict, payload: dict, signature: bytes = b"") -> str:
    head = b64url(json.dumps(header, separators=(",", ":")).encode())
    body = b64url(json.dumps(payload, separators=(",", ":")).encode())
    return f"{head}.{body}.{b64url(signature)}"


@lru_cache(maxsize=1)
def emulator_key() -> Any | None:
    """The RSA private key moto signs Cognito tokens with, or None if moto is not installed."""
    try:
        folder = resources.files("moto.cognitoidp") / "resources"
    except ModuleNotFoundError:
        return None
    for name, decode in (("jwks-private.json.gz", gzip.decompress), ("jwks-private.json", bytes)):
        try:
            data = decode((folder / name).read_bytes())
        except FileNotFoundError:
            continue
        return jwt.algorithms.RSAAlgorithm.from_jwk(data.decode())
    return None


@lru_cache(maxsize=1)
def attacker_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def signed(payload: dict, key: Any, kid: str = "dummy") -> str:
    return jwt.encode(payload, key, algorithm="RS256", headers={"kid": kid})


def hs256_with_public_key(payload: dict, public_pem: bytes) -> str:
    header = {"alg": "HS256", "typ": "JWT", "kid": "dummy"}
    head_body = unsigned(header, payload).rsplit(".", 1)[0]
    mac = hmac.new(public_pem, head_body.encode(), hashlib.sha256).digest()
    return f"{head_body}.{b64url(mac)}"


def public_pem(key: Any) -> bytes:
    return key.public_key().public_bytes(serialization.Encoding.PEM,
                                         serialization.PublicFormat.SubjectPublicKeyInfo)


@dataclass(frozen=True)
class Forgery:
    name: str
    token: str
    hint: str


def forgeries(genuine_id_token: str, genuine_access_token: str, other_tenant: str,
              use_emulator_key: bool) -> tuple[list[Forgery], list[str]]:
    """Every token a verifier must refuse, built from a genuine one; also the names skipped."""
    header, claims = segments(genuine_id_token)
    now = int(time.time())
    found = [
        Forgery("a garbage string", "not-a-token",
                "jwt.decode raises DecodeError for this; do not catch and return a default."),
        Forgery("an empty string", "", "an empty Authorization header must not become a user."),
        Forgery("a token with the 'Bearer ' prefix still on it", f"Bearer {genuine_id_token}",
                "verify_token takes the bare token; stripping 'Bearer ' belongs to the caller."),
        Forgery("a genuine token whose custom:tenant_id was edited to " + other_tenant,
                unsigned(header, {**claims, "custom:tenant_id": other_tenant},
                         base64.urlsafe_b64decode(genuine_id_token.split(".")[2] + "==")),
                "the signature covers the claims: verify it with the key from the JWKS "
                "(jwt.PyJWKClient(jwks_url).get_signing_key_from_jwt(token))."),
        Forgery("a token with alg 'none' and no signature",
                unsigned({"alg": "none", "typ": "JWT", "kid": header.get("kid", "dummy")},
                         {**claims, "custom:tenant_id": other_tenant}),
                "pin the algorithm: jwt.decode(..., algorithms=['RS256']). Never trust the "
                "token's own 'alg' header."),
        Forgery("a token signed by an attacker's own RSA key, with the same kid",
                signed({**claims, "custom:tenant_id": other_tenant}, attacker_key(),
                       header.get("kid", "dummy")),
                "the key must come from the pool's JWKS URL, never from the token."),
        Forgery("an access token instead of an ID token", genuine_access_token,
                "access tokens carry no aud and no tenant claims: require audience=client_id "
                "and token_use == 'id'."),
    ]
    skipped: list[str] = []
    key = emulator_key() if use_emulator_key else None
    if key is not None:
        found.insert(5, Forgery(
            "an HS256 token keyed with the pool's public key (algorithm confusion)",
            hs256_with_public_key({**claims, "custom:tenant_id": other_tenant}, public_pem(key)),
            "accept RS256 only: algorithms=['RS256']."))
        found += [
            Forgery("a genuinely signed token that expired two minutes ago",
                    signed({**claims, "iat": now - 3720, "auth_time": now - 3720,
                            "exp": now - 120}, key),
                    "jwt.decode checks exp when it is present; do not pass "
                    "options={'verify_exp': False}."),
            Forgery("a genuinely signed token with no exp claim at all",
                    signed({k: v for k, v in claims.items() if k != "exp"}, key),
                    "PyJWT only checks exp if it is there: options={'require': ['exp', 'iat', "
                    "'token_use']}."),
            Forgery("a genuinely signed token for another app client (wrong aud)",
                    signed({**claims, "aud": "some-other-app-client"}, key),
                    "pass audience=<the app client id> to jwt.decode."),
            Forgery("a genuinely signed token from another user pool (wrong iss)",
                    signed({**claims, "iss": claims["iss"].rsplit("/", 1)[0]
                            + "/us-east-1_AnotherPool"}, key),
                    "on the emulator every pool shares one key, so only issuer=<your pool's "
                    "issuer> stops a token minted by another pool."),
            Forgery("a genuinely signed token with token_use 'access' and a valid aud",
                    signed({**claims, "token_use": "access"}, key),
                    "check claims['token_use'] == 'id' and raise jwt.InvalidTokenError if not."),
        ]
    else:
        skipped = ["HS256 confusion, expired, no exp, wrong aud, wrong iss and token_use "
                   "forgeries"]
    return found, skipped
