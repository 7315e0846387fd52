"""Cognito's public (unsigned) user-pool operations: what AWS checks and moto does not.

AWS serves these operations without IAM, but Cognito itself refuses a client that writes an
attribute outside its app client's WriteAttributes, a change to an immutable attribute, and a
wrong confirmation or MFA code. moto checks none of that, so the gate does, on the parameters
moto will execute. The emulator sends no codes (no e-mail, no SMS, no authenticator), so every
operation that proves possession of a code is refused with ``CodeMismatchException``; so are
the sign-in flows whose proof moto does not verify (SRP, custom challenges).

Access to moto's Cognito backend is kept in the small functions at the end of this module.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from .hook import Refusal

# Operations whose only proof is a code the emulator never sent.
NEEDS_A_CODE = {"ConfirmSignUp", "ConfirmForgotPassword", "VerifyUserAttribute",
                "VerifySoftwareToken"}
# Sign-in flows whose proof moto checks (a password) or that prolong a session it issued.
VERIFIED_FLOWS = {"USER_PASSWORD_AUTH", "REFRESH_TOKEN_AUTH", "REFRESH_TOKEN"}
# Challenge answers moto checks: a new password (for the session's own user), MFA set-up.
VERIFIED_CHALLENGES = {"NEW_PASSWORD_REQUIRED", "MFA_SETUP"}


def check_public(operation: str, params: Mapping[str, Any]) -> None:
    """Raise Refusal (with Cognito's own error) for what Cognito would refuse."""
    if operation in NEEDS_A_CODE:
        raise Refusal("code-mismatch", "Invalid verification code provided, please try again. "
                                       "(The lab's emulator sends no codes, so it accepts none.)")
    if operation == "InitiateAuth":
        flow = params.get("AuthFlow")
        if flow not in VERIFIED_FLOWS:
            raise Refusal("not-authorized", f"The auth flow {flow!r} is not supported by the "
                                            "lab's emulator (it cannot verify its proof).")
    elif operation == "RespondToAuthChallenge":
        _challenge(params)
    elif operation == "SignUp":
        client = _client(params.get("ClientId"))
        _writable(client, _names(params.get("UserAttributes")), update=False)
    elif operation in ("UpdateUserAttributes", "DeleteUserAttributes"):
        names = (_names(params.get("UserAttributes")) if operation == "UpdateUserAttributes"
                 else list(params.get("UserAttributeNames") or []))
        _writable(_client_of_token(params.get("AccessToken")), names, update=True)


def _names(attributes: Any) -> list[str]:
    return [a.get("Name", "") if isinstance(a, Mapping) else "" for a in attributes or []]


def _writable(client: Any, names: Iterable[str], update: bool) -> None:
    """AWS: an attribute outside the client's WriteAttributes (all writable ones when it has
    none), or a change of an immutable attribute, is refused with NotAuthorizedException."""
    allowed = set(client_write_attributes(client) or ())
    schema = pool_schema(client)
    for name in names:
        if (allowed and name not in allowed) or (not allowed and name not in schema):
            raise Refusal("not-authorized", "A client attempted to write unauthorized "
                                            f"attribute {name!r}")
        if update and not schema.get(name, True):
            raise Refusal("not-authorized", f"Cannot modify an immutable attribute: {name}")


def _challenge(params: Mapping[str, Any]) -> None:
    name = params.get("ChallengeName")
    if name not in VERIFIED_CHALLENGES:
        raise Refusal("code-mismatch", f"The challenge {name!r} cannot be answered in the lab's "
                                       "emulator: it sends no codes and cannot verify the proof.")
    if name != "NEW_PASSWORD_REQUIRED":
        return
    answers = params.get("ChallengeResponses") or {}
    client = _client(params.get("ClientId"))
    owner = session_user(params.get("Session"))
    if owner is None or answers.get("USERNAME") != owner:
        raise Refusal("not-authorized", "Invalid session for the user.")
    _writable(client, [k.removeprefix("userAttributes.") for k in answers
                       if k.startswith("userAttributes.")], update=False)


def _client(client_id: Any) -> Any:
    client = find_client(client_id) if isinstance(client_id, str) else None
    if client is None:
        raise Refusal("not-authorized", "Client does not exist.")
    return client


def _client_of_token(token: Any) -> Any:
    client_id = token_client(token) if isinstance(token, str) else None
    if client_id is None:
        raise Refusal("not-authorized", "Invalid Access Token")
    return _client(client_id)


# --- moto's Cognito backend ----------------------------------------------------------------


def _pools() -> Iterator[Any]:
    from moto.cognitoidp.models import cognitoidp_backends

    for backends in cognitoidp_backends.values():
        for region, backend in backends.items():
            if region != "global":
                yield from backend.user_pools.values()


def _backends() -> Iterator[Any]:
    from moto.cognitoidp.models import cognitoidp_backends

    for backends in cognitoidp_backends.values():
        for region, backend in backends.items():
            if region != "global":
                yield backend


def find_client(client_id: str) -> Any:
    return next((p.clients[client_id] for p in _pools() if client_id in p.clients), None)


def token_client(token: str) -> str | None:
    """The app client an access token was issued to."""
    return next((p.access_tokens[token][0] for p in _pools() if token in p.access_tokens), None)


def session_user(session: Any) -> str | None:
    """The user an authentication session belongs to."""
    if not isinstance(session, str):
        return None
    for backend in _backends():
        if session in backend.sessions:
            return backend.sessions[session][0]
    return None


def client_write_attributes(client: Any) -> list[str]:
    return list(client.extended_config.get("WriteAttributes") or [])


def pool_schema(client: Any) -> dict[str, bool]:
    """Each attribute of the client's pool with its Mutable flag."""
    pool = next((p for p in _pools() if p.id == client.user_pool_id), None)
    if pool is None:
        return {}
    return {name: bool(attribute.mutable) for name, attribute in pool.schema_attributes.items()}
