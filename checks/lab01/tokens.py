"""Checks 1.1 to 1.3: sign in, verify a token, tenant context from claims."""

from __future__ import annotations

from typing import Any

import jwt

from environment.account import pools
from environment.account.tenants import TENANTS, Tenant
from environment.app.auth import jwks_client, verify_id_token
from environment.app.context import TenantContext
from environment.lab import Lab

from ..clock import can_move, clock_ahead
from ..foreign import foreign_id_token
from ..forgery import (
    attacker_jwks,
    cache_probe_tokens,
    forgeries,
    key_in_header_forgeries,
    recently_expired,
    served_jwks,
)
from ..framework import Raised, TimedOut, Trial, call_with_timeout, exercise, short
from .common import ALICE, REFUSALS, preview

AUTHENTICATION_RESULT = ("IdToken", "AccessToken", "RefreshToken", "ExpiresIn", "TokenType")
# What else Cognito's AuthenticationResult may carry (a remembered device): nothing beyond these.
AUTHENTICATION_EXTRAS = ("NewDeviceMetadata",)
# A user of the lab's pool that only checks sign in as: the check changes its password.
ROTATED = Tenant(TENANTS[1].id, "checks' own user", TENANTS[1].tier,
                 ("check-signin@tenant-b.example.com",))
NEW_PASSWORD = "Rotated-Passw0rd!"


def _expect_tokens_of(t: Trial, lab: Lab, result: Any, user: str, tenant_id: str) -> None:
    """Cognito's AuthenticationResult for ``user``: every token, each genuine and theirs."""
    t.expect(isinstance(result, dict), "Cognito's AuthenticationResult (a dict)",
             f"{type(result).__name__}: {short(result, 80)}",
             hint="return the AuthenticationResult part of Cognito's answer, as it is.")
    missing = [k for k in AUTHENTICATION_RESULT if k not in result]
    t.expect(not missing, f"a dict with {', '.join(AUTHENTICATION_RESULT)}",
             f"a dict with keys {sorted(result)}",
             hint="return the whole AuthenticationResult: callers need the access and refresh "
                  "tokens and the lifetime too, not only the ID token.",
             code_hint="return response['AuthenticationResult'] from initiate_auth.")
    extra = [k for k in result if k not in AUTHENTICATION_RESULT + AUTHENTICATION_EXTRAS]
    t.expect(not extra, "Cognito's AuthenticationResult and nothing else",
             f"also the keys {short(extra, 80)}",
             hint="return the AuthenticationResult part of the answer only: the rest of the "
                  "response (ResponseMetadata, ChallengeParameters) is not the sign-in result.",
             code_hint="return response['AuthenticationResult'] from initiate_auth.")
    try:
        claims = verify_id_token(lab.identity, result["IdToken"])
    except Exception as error:  # noqa: BLE001 - whatever the learner put there
        t.expect(False, "a genuine ID token of the lab's user pool in IdToken",
                 f"a token that does not verify ({error})")
    t.expect(claims.get("cognito:username") == user and
             claims.get("custom:tenant_id") == tenant_id,
             f"an ID token of {user} ({tenant_id})",
             f"one of {claims.get('cognito:username')} ({claims.get('custom:tenant_id')})",
             hint="sign in with the user name and password you were given, not fixed ones.")
    try:
        key = jwks_client(lab.identity.jwks_url).get_signing_key_from_jwt(result["AccessToken"])
        access = jwt.decode(result["AccessToken"], key.key, algorithms=["RS256"],
                            options={"verify_aud": False})
    except Exception as error:  # noqa: BLE001 - whatever the learner put there
        t.expect(False, "a genuine access token in AccessToken", f"it does not verify ({error})")
    t.expect(access.get("token_use") == "access" and access.get("username") == user,
             f"an access token of {user} in AccessToken",
             f"token_use {access.get('token_use')!r} of {access.get('username')!r}",
             hint="keep each token under its own name, as Cognito returned it.")


def _rotated_user(lab: Lab) -> str:
    """The checks' own user, created on first use, with the lab password (again)."""
    pools.ensure_users(lab.settings, lab.identity, (ROTATED,))
    user = ROTATED.users[0]
    _set_password(lab, user, lab.password)
    return user


def _set_password(lab: Lab, user: str, password: str) -> None:
    lab.client("cognito-idp").admin_set_user_password(
        UserPoolId=lab.identity.pool_id, Username=user, Password=password, Permanent=True)


@exercise(
    "1.1", "sign in", ("sign_in",),
    hint="ask Cognito to authenticate the user with the USER_PASSWORD_AUTH flow and the lab's "
         "app client, every time, and hand back the token part of its answer as it is.",
    code_hint="return lab.client('cognito-idp').initiate_auth(ClientId=lab.identity.client_id, "
              "AuthFlow='USER_PASSWORD_AUTH', AuthParameters={'USERNAME': username, "
              "'PASSWORD': password})['AuthenticationResult']",
)
def check_sign_in(sign_in, t: Trial) -> None:
    lab = t.lab
    for tenant in (TENANTS[0], TENANTS[2]):
        user = tenant.users[1]
        with t.case(f"sign in as {user} of {tenant.id}"):
            _expect_tokens_of(t, lab, t.call(sign_in, user, lab.password), user, tenant.id)
    refused = "let Cognito's error propagate: returning None or {} turns a failed sign-in " \
              "into a confusing error later."
    with t.case("a wrong password"):
        t.rejects(sign_in, TENANTS[0].users[1], "not-the-password", accept=(Exception,),
                  hint=refused)
    with t.case("a user that does not exist"):
        t.rejects(sign_in, "mallory@nowhere.example.com", lab.password, accept=(Exception,),
                  hint=refused)
    user = _rotated_user(lab)
    try:
        with t.case(f"sign in as {user}, then with the old password after it changed"):
            _expect_tokens_of(t, lab, t.call(sign_in, user, lab.password), user, ROTATED.id)
            _set_password(lab, user, NEW_PASSWORD)
            t.rejects(sign_in, user, lab.password, accept=(Exception,),
                      sent=f"{user} with the password that worked a moment ago",
                      hint="sign-in results must not be cached: a changed password (or a "
                           "disabled user) must stop the next sign-in. Ask Cognito every time.")
        with t.case(f"sign in as {user} with the new password"):
            _expect_tokens_of(t, lab, t.call(sign_in, user, NEW_PASSWORD), user, ROTATED.id)
    finally:
        _set_password(lab, user, lab.password)


@exercise(
    "1.2", "verify a token", ("verify_token",),
    hint="verify the signature with the pool's key from its JWKS, pin the algorithm, compare "
         "issuer and audience for equality, require exp, iat and token_use, and refuse any "
         "token_use but 'id'. Do not cache results past a token's expiry.",
    code_hint="key = jwks.get_signing_key_from_jwt(token).key; claims = jwt.decode(token, key, "
              "algorithms=['RS256'], audience=lab.identity.client_id, "
              "issuer=lab.identity.issuer, options={'require': ['exp', 'iat', 'token_use']}); "
              "then raise jwt.InvalidTokenError unless claims['token_use'] == 'id'.",
)
def check_verify_token(verify_token, t: Trial) -> None:
    lab = t.lab
    for tenant in TENANTS:
        user = tenant.users[0]
        with t.case(f"a genuine ID token of {user}"):
            claims = t.call(verify_token, lab.id_token(user),
                            hint="a genuine token must pass: check the JWKS URL "
                                 "(lab.identity.jwks_url) and the issuer (lab.identity.issuer).")
            t.expect(isinstance(claims, dict) and claims.get("custom:tenant_id") == tenant.id,
                     f"the token's claims: a dict with custom:tenant_id = {tenant.id!r}",
                     claims, hint="return the claims the verification gave you.")
    forged = forgeries(lab.id_token(ALICE), lab.access_token(ALICE), "tenant-b",
                       lab.settings.embedded)
    recent = recently_expired(lab.id_token(ALICE)) if lab.settings.embedded else None
    forged += [recent] if recent is not None else []
    for forgery in forged:
        if forgery.token is None:
            t.skip(forgery.name, "it needs the embedded emulator's signing key")
            continue
        with t.case(forgery.name):
            t.rejects(verify_token, forgery.token, accept=REFUSALS, hint=forgery.hint,
                      sent=preview(forgery.token))
    genuine = lab.id_token(ALICE)
    with served_jwks(attacker_jwks(jwt.get_unverified_header(genuine).get("kid", "dummy"))
                     ) as jku:
        for forgery in key_in_header_forgeries(genuine, "tenant-b", jku):
            with t.case(forgery.name):
                t.rejects(verify_token, forgery.token, accept=REFUSALS, hint=forgery.hint,
                          sent=preview(forgery.token))
    if lab.settings.embedded:
        with t.case("a genuine ID token of another user pool that claims tenant-a"):
            token = foreign_id_token(lab)
            t.rejects(verify_token, token, accept=REFUSALS, sent=preview(token),
                      hint="its signature is genuine (every emulated pool shares a key): only "
                           "the issuer and audience checks tell it apart.")
    _check_no_cache_past_expiry(verify_token, t, lab)


def _check_no_cache_past_expiry(verify_token, t: Trial, lab: Lab) -> None:
    tokens = cache_probe_tokens(lab.id_token(ALICE), "verify")
    if tokens is None or not can_move():
        t.skip("a result cached past expiry", "it needs the emulator's key and PyJWT's clock")
        return
    seen, never = tokens
    name = "a token seen while valid, presented again three days later (after its exp)"
    with t.case(name):
        t.call(verify_token, seen, hint="a genuine, unexpired token must pass.")
        with clock_ahead(fns=(verify_token,)):
            if not _refuses(verify_token, never, t.timeout):
                t.skip(name, "your verifier does not read PyJWT's clock")
                return
            t.rejects(verify_token, seen, accept=REFUSALS, sent=preview(seen),
                      hint="a result remembered by token string outlives the token: check exp "
                           "on every call (or do not cache at all).")


def _refuses(fn, token: str, timeout: float) -> bool:
    try:
        call_with_timeout(fn, token, timeout=timeout)
    except (Raised, TimedOut):
        return True
    return False


@exercise(
    "1.3", "tenant context from claims", ("tenant_context",),
    hint="build the TenantContext from the namespaced claims custom:tenant_id, "
         "custom:tenant_tier and cognito:username only; raise when the tenant id or the tier "
         "is missing or empty, and never fall back to other claims or defaults.",
    code_hint="tenant_id, tier = claims.get('custom:tenant_id'), claims.get('custom:tenant_tier')"
              "; if not tenant_id or not tier: raise jwt.InvalidTokenError(...); return "
              "TenantContext(tenant_id=tenant_id, tier=tier, user=claims['cognito:username'])",
)
def check_tenant_context(tenant_context, t: Trial) -> None:
    lab = t.lab
    for tenant in TENANTS:
        user = tenant.users[1]
        claims = verify_id_token(lab.identity, lab.id_token(user))
        with t.case(f"the verified claims of {user}"):
            ctx = t.call(tenant_context, dict(claims))
            want = TenantContext(tenant.id, tenant.tier, user)
            t.expect(isinstance(ctx, TenantContext), "a TenantContext",
                     f"{type(ctx).__name__}: {short(ctx, 80)}",
                     hint="build it with the TenantContext class imported at the top.")
            t.expect(ctx == want, repr(want), ctx,
                     hint="tenant from custom:tenant_id, tier from custom:tenant_tier, user "
                          "from cognito:username.")
    claims = dict(verify_id_token(lab.identity, lab.id_token(ALICE)))
    without = {k: v for k, v in claims.items() if not k.startswith("custom:")}
    hostile = {
        "claims without custom:tenant_id": {k: v for k, v in claims.items()
                                            if k != "custom:tenant_id"},
        "claims with an empty custom:tenant_id": {**claims, "custom:tenant_id": ""},
        "claims with custom:tenant_id None": {**claims, "custom:tenant_id": None},
        "claims without custom:tenant_tier": {k: v for k, v in claims.items()
                                              if k != "custom:tenant_tier"},
        "claims with an empty custom:tenant_tier": {**claims, "custom:tenant_tier": ""},
        "claims with a plain tenant_id 'tenant-b' instead of custom:tenant_id":
            {**without, "tenant_id": "tenant-b", "tenant_tier": "advanced"},
        "claims with a plain tenant_tier 'premium' instead of custom:tenant_tier":
            {**without, "custom:tenant_id": "tenant-a", "tenant_tier": "premium"},
    }
    want = TenantContext(TENANTS[0].id, TENANTS[0].tier, ALICE)
    lured = {
        "claims with both custom:tenant_id 'tenant-a' and a plain tenant_id 'tenant-b'":
            ({**claims, "tenant_id": "tenant-b", "tenant_tier": "premium", "tier": "premium"},
             "the namespaced custom: claims are the only source, even when plain look-alikes "
             "are present too: never prefer (or fall back to) tenant_id or tenant_tier."),
        "claims whose email differs from cognito:username":
            ({**claims, "email": "mallory@tenant-b.example.com", "username": "mallory",
              "preferred_username": "mallory", "name": "mallory"},
             "users can change their own email; the user is cognito:username, which they "
             "cannot."),
    }
    for name, (lure, hint) in lured.items():
        with t.case(name):
            ctx = t.call(tenant_context, dict(lure), hint=hint)
            t.expect(ctx == want, repr(want), ctx, hint=hint)
    hostile["claims without cognito:username"] = {k: v for k, v in claims.items()
                                                  if k != "cognito:username"}
    for name, bad in hostile.items():
        with t.case(name):
            t.rejects(tenant_context, bad, accept=(Exception,), sent=short(bad, 100),
                      hint="no tenant (or no tier, or no user) in the namespaced claims means "
                           "no context: raise, instead of a default or a claim anyone could set "
                           "in another token.")
