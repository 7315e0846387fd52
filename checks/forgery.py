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
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
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
    token: str | None  # None when it needs the signing key and the key is not at hand
    hint: str
    needs_signing_key: bool = False


def minted(genuine_id_token: str, drop: tuple[str, ...] = (), **changes: Any) -> str | None:
    """A token signed with the emulator's key: the genuine claims, some dropped or changed.

    None when the key is not at hand (LocalStack, AWS). Timestamps stay relative to the
    real clock: a check that needs "expired" uses a token expired days ago, so no verifier
    with a reasonable leeway accepts it and no case depends on how long the check runs.
    """
    key = emulator_key()
    if key is None:
        return None
    header, claims = segments(genuine_id_token)
    payload = {k: v for k, v in {**claims, **changes}.items() if k not in drop}
    return signed(payload, key, header.get("kid", "dummy"))


def forgeries(genuine_id_token: str, genuine_access_token: str, other_tenant: str,
              use_emulator_key: bool) -> list[Forgery]:
    """Every token a verifier must refuse, built from a genuine one.

    Those that need the emulator's signing key say so (``needs_signing_key``); without the
    key (LocalStack, AWS, or ``use_emulator_key=False``) their token is None, to be skipped.
    """
    header, claims = segments(genuine_id_token)
    now = int(time.time())
    day = 24 * 3600
    found = [
        Forgery("a garbage string", "not-a-token",
                "jwt.decode raises DecodeError for this; do not catch and return a default."),
        Forgery("an empty string", "", "an empty Authorization header must not become a user."),
        Forgery("a token with the 'Bearer ' prefix still on it", f"Bearer {genuine_id_token}",
                "verify_token takes the bare token; stripping 'Bearer ' belongs to the caller."),
        Forgery("a genuine token whose custom:tenant_id was edited to " + other_tenant,
                unsigned(header, {**claims, "custom:tenant_id": other_tenant},
                         base64.urlsafe_b64decode(genuine_id_token.split(".")[2] + "==")),
                "the signature covers the claims: verify it with the pool's public key, "
                "found in its JWKS by the token's kid."),
        Forgery("a token with alg 'none' and no signature",
                unsigned({"alg": "none", "typ": "JWT", "kid": header.get("kid", "dummy")},
                         {**claims, "custom:tenant_id": other_tenant}),
                "pin the algorithm you expect; never let the token's own 'alg' header "
                "choose."),
        Forgery("a token signed by an attacker's own RSA key, with the same kid",
                signed({**claims, "custom:tenant_id": other_tenant}, attacker_key(),
                       header.get("kid", "dummy")),
                "the key must come from the pool's JWKS URL, never from the token."),
        Forgery("an access token instead of an ID token", genuine_access_token,
                "access tokens carry no aud and no tenant claims: require your audience "
                "and an ID token's token_use."),
    ]
    key = emulator_key() if use_emulator_key else None

    def keyed(name: str, payload: dict, hint: str) -> Forgery:
        """A forgery only the emulator's key can sign (PyJWT's checks beyond the signature)."""
        return Forgery(name, None if key is None else signed(payload, key), hint,
                       needs_signing_key=True)

    confused = {**claims, "custom:tenant_id": other_tenant}
    found.insert(5, Forgery(
        "an HS256 token keyed with the pool's public key (algorithm confusion)",
        None if key is None else hs256_with_public_key(confused, public_pem(key)),
        "accept the one algorithm the pool signs with, and no other.", needs_signing_key=True))
    issuer, client = claims["iss"], claims["aud"]
    pool = issuer.rsplit("/", 1)[-1]
    found += [
        keyed("a genuinely signed token that expired two days ago",
              {**claims, "iat": now - 2 * day - 3600, "auth_time": now - 2 * day
                      - 3600, "exp": now - 2 * day},
              "PyJWT checks exp when it is present; never switch that check off."),
        keyed("a genuinely signed token with no exp claim at all",
              {k: v for k, v in claims.items() if k != "exp"},
              "PyJWT only checks a claim that is there: make exp (and iat) required."),
        keyed("a genuinely signed token for another app client (wrong aud)",
              {**claims, "aud": "some-other-app-client"},
              "tell jwt.decode which audience you expect: your app client's id."),
        keyed("a genuinely signed token from another user pool (wrong iss)",
              {**claims, "iss": issuer.rsplit("/", 1)[0]
                      + "/us-east-1_AnotherPool"},
              "on the emulator every pool shares one key, so only the issuer check "
              "stops a token minted by another pool."),
        keyed("a genuinely signed token with token_use 'access' and a valid aud",
              {**claims, "token_use": "access"},
              "only an ID token carries the tenant: refuse any other token_use."),
        keyed("a genuinely signed token with no token_use claim",
              {k: v for k, v in claims.items() if k != "token_use"},
              "a missing token_use is not 'id': require the claim, no default."),
        keyed("a genuinely signed token whose iss is the pool's issuer plus '-evil'",
              {**claims, "iss": issuer + "-evil"},
              "compare the issuer for equality; a prefix, suffix or 'in' test lets "
              "look-alike issuers through."),
        keyed("a genuinely signed token from a foreign host with the pool id in its path",
              {**claims, "iss": f"https://evil.example.com/{pool}"},
              "compare the whole issuer URL for equality, not the pool id inside it."),
        keyed("a genuinely signed token whose aud is the client id cut short",
              {**claims, "aud": client[: len(client) // 2]},
              "compare the audience for equality; 'aud in client_id' accepts any "
              "piece of it."),
        keyed("a genuinely signed token whose aud is the client id plus a suffix",
              {**claims, "aud": client + "-evil"},
              "compare the audience for equality, not with startswith."),
        keyed("a genuinely signed token that is not valid before tomorrow (nbf)",
              {**claims, "nbf": now + day},
              "PyJWT refuses a token before its nbf unless that check is switched off."),
        keyed("a genuinely signed token issued tomorrow (iat in the future)",
              {**claims, "iat": now + day, "exp": now + 2 * day},
              "a token from the future was not issued by your pool's clock: keep PyJWT's "
              "iat check on."),
    ]
    return found


def attacker_jwks(kid: str) -> dict:
    """The attacker's public key as a JWKS, under the pool's own kid."""
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(attacker_key().public_key()))
    return {"keys": [{**jwk, "kid": kid, "alg": "RS256", "use": "sig"}]}


@contextmanager
def served_jwks(jwks: dict) -> Iterator[str]:
    """An attacker's JWKS at a loopback URL for the block (no network, stopped afterwards)."""
    body = json.dumps(jwks).encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/.well-known/jwks.json"
    finally:
        server.shutdown()
        server.server_close()


def key_in_header_forgeries(genuine_id_token: str, other_tenant: str, jku: str
                            ) -> list[Forgery]:
    """Tokens signed by the attacker that name their own key in the header (jwk, jku, x5u)."""
    header, claims = segments(genuine_id_token)
    kid = header.get("kid", "dummy")
    payload = {**claims, "custom:tenant_id": other_tenant}
    jwk = attacker_jwks(kid)["keys"][0]
    return [
        Forgery("an attacker-signed token that embeds its own key in a 'jwk' header",
                jwt.encode(payload, attacker_key(), algorithm="RS256",
                           headers={"kid": kid, "jwk": jwk}),
                "a key carried by the token proves nothing (CVE-2018-0114): take keys only "
                "from your pool's JWKS URL."),
        Forgery("an attacker-signed token whose 'jku' header points to the attacker's JWKS",
                jwt.encode(payload, attacker_key(), algorithm="RS256",
                           headers={"kid": kid, "jku": jku, "x5u": jku}),
                "never fetch keys from a URL the token names (jku, x5u): the JWKS URL is your "
                "pool's, fixed in your code."),
    ]


def recently_expired(genuine_id_token: str) -> Forgery | None:
    """A genuine token that expired 50 minutes ago: refused by any leeway of a few minutes."""
    now = int(time.time())
    token = minted(genuine_id_token, iat=now - 3000 - 3600, auth_time=now - 3000 - 3600,
                   exp=now - 3000)
    if token is None:
        return None
    return Forgery("a genuinely signed token that expired 50 minutes ago", token,
                   "a leeway absorbs clock skew between machines, a few minutes at most; an "
                   "hour-long leeway keeps stolen tokens alive for an hour.")


def cache_probe_tokens(genuine_id_token: str, label: str) -> tuple[str, str] | None:
    """Two otherwise genuine tokens valid for the next hour, for the cache-past-expiry cases:
    one the check shows the learner's code while it is valid, one it never saw (refused once
    the clock moves, which proves the moved clock reaches that code). None without the key."""
    now = int(time.time())
    seen, never = (minted(genuine_id_token, iat=now, auth_time=now, exp=now + 3600,
                          jti=f"check-{label}-{which}") for which in ("seen", "never-seen"))
    return None if seen is None or never is None else (seen, never)
