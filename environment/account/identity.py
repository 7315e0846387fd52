"""Where tokens come from and where their signing keys live.

Cognito puts ``https://cognito-idp.<region>.amazonaws.com/<pool>`` in the
token's ``iss`` claim, and on AWS the keys are at ``<iss>/.well-known/jwks.json``.
The emulator signs the same tokens but serves the keys on its own endpoint, so
the issuer-to-JWKS mapping is a setting rather than string concatenation in
learner code.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from threading import Lock

from ..errors import LabError
from ..settings import Settings


@dataclass(frozen=True)
class Identity:
    """The user pool and app client of the lab, and the URLs a verifier needs."""

    pool_id: str
    client_id: str
    region: str
    endpoint: str | None

    @property
    def issuer(self) -> str:
        return f"https://cognito-idp.{self.region}.amazonaws.com/{self.pool_id}"

    @property
    def jwks_url(self) -> str:
        return jwks_url_for(self.issuer, self.endpoint)


def jwks_url_for(issuer: str, endpoint: str | None) -> str:
    """The JWKS URL of an issuer: on AWS beside the issuer, on an emulator under its endpoint."""
    if endpoint is None:
        return f"{issuer}/.well-known/jwks.json"
    pool_id = issuer.rstrip("/").rsplit("/", 1)[-1]
    return f"{endpoint}/{pool_id}/.well-known/jwks.json"


@dataclass
class TokenCache:
    """Signed-in tokens per user, reused until shortly before they expire.

    Checks and tests sign in as many users many times; Cognito tokens last an
    hour, so one sign-in per user per process is plenty.
    """

    settings: Settings
    identity: Identity
    _tokens: dict[str, tuple[float, dict]] = field(default_factory=dict)
    _lock: Lock = field(default_factory=Lock)

    def tokens(self, username: str, password: str) -> dict:
        with self._lock:
            cached = self._tokens.get(username)
            if cached and cached[0] > time.time() + 60:
                return cached[1]
        result = sign_in(self.settings, self.identity, username, password)
        with self._lock:
            self._tokens[username] = (time.time() + result["ExpiresIn"], result)
        return result


def sign_in(settings: Settings, identity: Identity, username: str, password: str) -> dict:
    """USER_PASSWORD_AUTH sign-in; returns Cognito's AuthenticationResult."""
    client = settings.client("cognito-idp")
    try:
        response = client.initiate_auth(
            ClientId=identity.client_id,
            AuthFlow="USER_PASSWORD_AUTH",
            AuthParameters={"USERNAME": username, "PASSWORD": password},
        )
    except client.exceptions.NotAuthorizedException as error:
        raise LabError(f"Cognito refused to sign in {username!r}: {error}",
                       "check the user name and password (see `python -m environment status`)."
                       ) from None
    return response["AuthenticationResult"]
