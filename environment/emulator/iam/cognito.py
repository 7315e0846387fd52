"""Cognito's public (unsigned) user-pool operations: what AWS checks and moto does not.

AWS serves these operations without IAM, but Cognito itself refuses a client that writes an
attribute outside its app client's WriteAttributes, a change to an immutable attribute, and a
wrong confirmation or MFA code. moto checks none of that, so the gate does, on the parameters
moto will execute. The emulator sends no codes (no e-mail, no SMS, no authenticator), so every
operation that proves possession of a code is refused with ``CodeMismatchException``; so are
the sign-in flows whose proof moto does not verify (SRP, custom challenges).

What moto knows of pools, clients and sessions comes through the moto adapter.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from ..moto_adapter import (
    UserPoolClient,
    access_token_client,
    auth_session_user,
    user_pool_client,
)
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


def _writable(client: UserPoolClient, names: Iterable[str], update: bool) -> None:
    """AWS: an attribute outside the client's WriteAttributes (all writable ones when it has
    none), or a change of an immutable attribute, is refused with NotAuthorizedException."""
    allowed = set(client.write_attributes)
    schema = client.mutable
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
    session = params.get("Session")
    owner = auth_session_user(session) if isinstance(session, str) else None
    if owner is None or answers.get("USERNAME") != owner:
        raise Refusal("not-authorized", "Invalid session for the user.")
    _writable(client, [k.removeprefix("userAttributes.") for k in answers
                       if k.startswith("userAttributes.")], update=False)


def _client(client_id: Any) -> UserPoolClient:
    client = user_pool_client(client_id) if isinstance(client_id, str) else None
    if client is None:
        raise Refusal("not-authorized", "Client does not exist.")
    return client


def _client_of_token(token: Any) -> UserPoolClient:
    client_id = access_token_client(token) if isinstance(token, str) else None
    if client_id is None:
        raise Refusal("not-authorized", "Invalid Access Token")
    return _client(client_id)
