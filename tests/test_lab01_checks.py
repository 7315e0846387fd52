"""Lab 1's checks pass on the solution and its benign variants, and catch each wrong one.

The solution functions come from solutions/01-tenant-context.ipynb itself. Each
mutant below is one realistic bug (OWASP's JWT list, DynamoDB API misuse,
pagination, mass assignment, process-local state); the test names the case that
must catch it, so a check that loses its teeth fails here. The benign variants
are correct answers written differently: a check that fails one is wrong too.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
import threading
import time
import uuid
import zlib
from datetime import UTC, datetime
from functools import lru_cache

import jwt
import pytest
from boto3.dynamodb.conditions import Attr, Key
from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from mutants import assert_accepted, assert_caught

from checks import run
from checks.notebook_code import exercise_ids, functions_for, namespace, solution_path
from environment.app.context import TenantContext


@pytest.fixture(scope="module")
def solution(lab):
    return namespace(solution_path(1))


@pytest.mark.parametrize("exercise", exercise_ids(1))
def test_the_solution_passes(solution, exercise):
    outcome = run(exercise, *functions_for(exercise, solution))
    assert outcome.passed, outcome.message
    assert outcome.cases >= 4 and not outcome.skipped, outcome.skipped


# --- 1.1 sign in ---------------------------------------------------------------------------------


def sign_in_mutants(s):
    lab, cognito = s["lab"], s["cognito"]

    def auth(username, password):
        return cognito.initiate_auth(ClientId=lab.identity.client_id,
                                     AuthFlow="USER_PASSWORD_AUTH",
                                     AuthParameters={"USERNAME": username, "PASSWORD": password})

    def swallow(default):
        def sign_in(username, password):
            try:
                return auth(username, password)["AuthenticationResult"]
            except Exception:
                return default
        return sign_in

    by_user: dict = {}

    def cached_by_user(username, password):
        if username not in by_user:
            by_user[username] = auth(username, password)["AuthenticationResult"]
        return by_user[username]

    @lru_cache
    def cached_forever(username, password):
        return auth(username, password)["AuthenticationResult"]

    until: dict = {}

    def cached_until_expiry(username, password):
        expires, result = until.get((username, password), (0, None))
        if time.time() >= expires:
            result = auth(username, password)["AuthenticationResult"]
            until[(username, password)] = (time.time() + result["ExpiresIn"] - 60, result)
        return result

    last_good: dict = {}

    def stale_on_error(username, password):
        try:
            last_good[username] = auth(username, password)["AuthenticationResult"]
        except Exception:
            if username not in last_good:
                raise
        return last_good[username]

    def swapped(username, password):
        result = dict(auth(username, password)["AuthenticationResult"])
        result["IdToken"], result["AccessToken"] = result["AccessToken"], result["IdToken"]
        return result

    return [
        ("1.1", "returns the whole response", (auth,), "sign in as arthur"),
        ("1.1", "keeps only the IdToken",
         (lambda u, p: {"IdToken": auth(u, p)["AuthenticationResult"]["IdToken"]},),
         "sign in as arthur"),
        ("1.1", "returns the ID token string",
         (lambda u, p: auth(u, p)["AuthenticationResult"]["IdToken"],), "sign in as arthur"),
        ("1.1", "signs in a fixed user",
         (lambda u, p: auth("alice@tenant-a.example.com", p)["AuthenticationResult"],),
         "sign in as arthur"),
        ("1.1", "swaps the ID and access tokens", (swapped,), "sign in as arthur"),
        ("1.1", "returns None on failure", (swallow(None),), "a wrong password"),
        ("1.1", "returns {} on failure", (swallow({}),), "a wrong password"),
        ("1.1", "caches by user name", (cached_by_user,), "a wrong password"),
        ("1.1", "answers a failed sign-in with the last good result", (stale_on_error,),
         "a wrong password"),
        ("1.1", "caches by user and password forever", (cached_forever,),
         "old password after it changed"),
        ("1.1", "caches until the tokens expire", (cached_until_expiry,),
         "old password after it changed"),
        ("1.1", "merges the response metadata into the result",
         (lambda u, p: {**(r := auth(u, p)), **r["AuthenticationResult"]},), "sign in as arthur"),
    ]


def sign_in_benign(s):
    lab = s["lab"]

    def fresh_client(username, password):
        return dict(lab.client("cognito-idp").initiate_auth(
            ClientId=lab.identity.client_id, AuthFlow="USER_PASSWORD_AUTH",
            AuthParameters={"USERNAME": username, "PASSWORD": password})["AuthenticationResult"])

    return [("1.1", fresh_client)]


# --- 1.2 verify a token --------------------------------------------------------------------------


def verifier(s, token_use="strict", options=None, after=None, **changes):
    """A verifier like the solution's, with some of jwt.decode's arguments changed."""
    lab = s["lab"]
    kwargs = {"algorithms": ["RS256"], "audience": lab.identity.client_id,
              "issuer": lab.identity.issuer,
              "options": {"require": ["exp", "iat", "token_use"], **(options or {})}, **changes}

    def verify(token):
        key = s["jwks"].get_signing_key_from_jwt(token).key
        claims = jwt.decode(token, key, **kwargs)
        if token_use == "strict" and claims["token_use"] != "id":
            raise jwt.InvalidTokenError("not an ID token")
        if token_use == "default" and claims.get("token_use", "id") != "id":
            raise jwt.InvalidTokenError("not an ID token")
        if token_use == "value-error" and claims.get("token_use") != "id":
            raise ValueError("not an ID token")
        if token_use == "key-error":
            {"id": True}[claims["token_use"]]
        if after is not None and not after(claims):
            raise jwt.InvalidTokenError("refused")
        return claims
    return verify


def verify_mutants(s):
    lab = s["lab"]
    issuer, client, pool = lab.identity.issuer, lab.identity.client_id, lab.identity.pool_id
    strict = verifier(s)
    no_exp = verifier(s, options={"verify_exp": False})

    def embedded_jwk(token):
        header = jwt.get_unverified_header(token)
        if "jwk" not in header:
            return strict(token)
        key = jwt.algorithms.RSAAlgorithm.from_jwk(json.dumps(header["jwk"]))
        return jwt.decode(token, key, algorithms=["RS256"], audience=client, issuer=issuer)

    def from_jku(token):
        header = jwt.get_unverified_header(token)
        if "jku" not in header:
            return strict(token)
        key = jwt.PyJWKClient(header["jku"]).get_signing_key_from_jwt(token).key
        return jwt.decode(token, key, algorithms=["RS256"], audience=client, issuer=issuer)

    forever: dict = {}

    def own_exp_cached_forever(token):
        if token not in forever:
            claims = no_exp(token)
            if claims["exp"] <= datetime.now(UTC).timestamp():
                raise jwt.ExpiredSignatureError("expired")
            forever[token] = claims
        return forever[token]

    forever_too: dict = {}

    def own_time_cached_forever(token):
        if token not in forever_too:
            claims = no_exp(token)
            if claims["exp"] <= time.time():
                raise jwt.ExpiredSignatureError("expired")
            forever_too[token] = claims
        return forever_too[token]

    no_aud = {"options": {"verify_aud": False, "require": ["exp", "iat", "token_use"]},
              "audience": None}
    return [
        ("1.2", "decodes without verifying",
         (lambda token: jwt.decode(token, options={"verify_signature": False}),),
         "custom:tenant_id was edited"),
        ("1.2", "does not require exp", (verifier(s, options={"require": ["iat"]}),),
         "no exp claim"),
        ("1.2", "turns off the expiry check",
         (verifier(s, options={"verify_exp": False, "require": ["exp"]}),), "two days ago"),
        ("1.2", "does not check the issuer", (verifier(s, issuer=None),), "another user pool"),
        ("1.2", "does not check the audience", (verifier(s, **no_aud),), "another app client"),
        ("1.2", "does not check token_use", (verifier(s, token_use="no"),), "token_use 'access'"),
        ("1.2", "checks token_use with a default",
         (verifier(s, token_use="default", options={"require": ["exp", "iat"]}),),
         "no token_use claim"),
        ("1.2", "refuses a wrong token_use by crashing (KeyError)",
         (verifier(s, token_use="key-error"),), "token_use 'access'"),
        ("1.2", "compares the issuer by prefix",
         (verifier(s, issuer=None, after=lambda c: c["iss"].startswith(issuer)),), "'-evil'"),
        ("1.2", "compares the issuer by its pool id",
         (verifier(s, issuer=None, after=lambda c: c["iss"].endswith("/" + pool)),),
         "foreign host"),
        ("1.2", "tests the audience with 'in'",
         (verifier(s, **no_aud, after=lambda c: c["aud"] in client),), "cut short"),
        ("1.2", "compares the audience by prefix",
         (verifier(s, **no_aud, after=lambda c: c["aud"].startswith(client)),), "plus a suffix"),
        ("1.2", "turns off the iat check", (verifier(s, options={"verify_iat": False}),),
         "issued tomorrow"),
        ("1.2", "turns off the nbf check", (verifier(s, options={"verify_nbf": False}),),
         "not valid before tomorrow"),
        ("1.2", "caches results by token string", (lru_cache(verifier(s)),),
         "three days later"),
        ("1.2", "a leeway of 12 hours", (verifier(s, leeway=12 * 3600),), "50 minutes ago"),
        ("1.2", "a leeway of one hour", (verifier(s, leeway=3600),), "50 minutes ago"),
        ("1.2", "trusts a key embedded in the 'jwk' header", (embedded_jwk,), "'jwk' header"),
        ("1.2", "fetches keys from the token's 'jku' header", (from_jku,), "'jku' header"),
        ("1.2", "checks exp with datetime.now itself and caches forever",
         (own_exp_cached_forever,), "three days later"),
        ("1.2", "checks exp with time.time itself and caches forever",
         (own_time_cached_forever,), "three days later"),
        ("1.2", "raises a non-JWT error for every other token",
         (lambda token: (_ for _ in ()).throw(ValueError("bad token"))
          if token != s["tokens"]["IdToken"] else {},), "a genuine ID token"),
    ]


def verify_benign(s):
    lab = s["lab"]

    def own_client(token):
        key = jwt.PyJWKClient(lab.identity.jwks_url).get_signing_key_from_jwt(token).key
        claims = jwt.decode(token, key, algorithms=["RS256"], audience=lab.identity.client_id,
                            issuer=[lab.identity.issuer],
                            options={"require": ["exp", "iat", "token_use"]})
        if claims["token_use"] != "id":
            raise PermissionError("not an ID token")
        return claims

    verified: dict = {}

    def cache_until_exp(token):
        claims = verified.get(token)
        if claims is None or claims["exp"] <= time.time():
            claims = verified[token] = s["verify_token"](token)
        return claims

    by_datetime: dict = {}

    def cache_until_exp_datetime(token):
        hit = by_datetime.get(token)
        if hit and hit["exp"] > datetime.now(UTC).timestamp():
            return hit
        by_datetime[token] = s["verify_token"](token)
        return by_datetime[token]

    by_monotonic: dict = {}

    def cache_until_exp_monotonic(token):
        hit = by_monotonic.get(token)
        if hit and time.monotonic() < hit[0]:
            return hit[1]
        claims = s["verify_token"](token)
        by_monotonic[token] = (time.monotonic() + (claims["exp"] - time.time()), claims)
        return claims

    return [("1.2", verifier(s, leeway=300)), ("1.2", verifier(s, token_use="value-error")),
            ("1.2", own_client), ("1.2", cache_until_exp),
            ("1.2", cache_until_exp_datetime), ("1.2", cache_until_exp_monotonic)]


# --- 1.3 tenant context --------------------------------------------------------------------------


def context_mutants(s):
    def build(tenant, tier, user="cognito:username"):
        return lambda c: TenantContext(tenant(c), tier(c), c[user])

    def strict_tenant(c):
        if not c.get("custom:tenant_id"):
            raise KeyError("custom:tenant_id")
        return c["custom:tenant_id"]

    def not_empty_string(c):
        if c.get("custom:tenant_id", "") == "":
            raise KeyError("custom:tenant_id")
        return c["custom:tenant_id"]

    def tier(c):
        if not c.get("custom:tenant_tier"):
            raise KeyError("custom:tenant_tier")
        return c["custom:tenant_tier"]

    return [
        ("1.3", "defaults to tenant-a",
         (build(lambda c: c.get("custom:tenant_id", "tenant-a"), tier),),
         "without custom:tenant_id"),
        ("1.3", "accepts an empty tenant", (build(lambda c: c["custom:tenant_id"], tier),),
         "empty custom:tenant_id"),
        ("1.3", "only refuses the empty string", (build(not_empty_string, tier),),
         "custom:tenant_id None"),
        ("1.3", "returns a dict", (lambda c: {"tenant_id": c["custom:tenant_id"]},),
         "verified claims of arthur"),
        ("1.3", "defaults the tier to basic",
         (build(strict_tenant, lambda c: c.get("custom:tenant_tier", "basic")),),
         "without custom:tenant_tier"),
        ("1.3", "accepts an empty tier (checks the tenant only)",
         (build(strict_tenant, lambda c: c["custom:tenant_tier"]),), "empty custom:tenant_tier"),
        ("1.3", "falls back to a plain tenant_id claim",
         (build(lambda c: c.get("custom:tenant_id") or c["tenant_id"],
                lambda c: c.get("custom:tenant_tier") or c["tenant_tier"]),), "plain tenant_id"),
        ("1.3", "falls back to a plain tenant_tier claim",
         (build(strict_tenant, lambda c: c.get("custom:tenant_tier") or c["tenant_tier"]),),
         "plain tenant_tier"),
        ("1.3", "fixes the tier", (build(strict_tenant, lambda c: "basic"),),
         "verified claims of bella"),
        ("1.3", "takes the user from sub", (build(strict_tenant, tier, user="sub"),),
         "verified claims of arthur"),
        ("1.3", "prefers a plain tenant_id over custom:tenant_id",
         (build(lambda c: c.get("tenant_id") or strict_tenant(c),
                lambda c: c.get("tenant_tier") or tier(c)),), "both custom:tenant_id"),
        ("1.3", "takes the user from email", (build(strict_tenant, tier, user="email"),),
         "email differs"),
        ("1.3", "defaults the user to anonymous",
         (lambda c: TenantContext(strict_tenant(c), tier(c),
                                  c.get("cognito:username", "anonymous")),),
         "without cognito:username"),
    ]


def context_benign(s):
    def plain_keys(c):
        tenant, tier = c["custom:tenant_id"], c["custom:tenant_tier"]
        if not tenant or not tier:
            raise ValueError("no tenant")
        return TenantContext(tenant, tier, c["cognito:username"])
    return [("1.3", plain_keys)]


# --- 1.4 tenant middleware -----------------------------------------------------------------------


def middleware_mutants(s):
    solution, verify, context = s["tenant_from_request"], s["verify_token"], s["tenant_context"]

    def with_override(pick):
        def middleware(request):
            ctx = solution(request)
            return TenantContext(*pick(request, ctx))
        return middleware

    def body(request):
        return request.get_json(silent=True) or {}

    def any_scheme(request):
        _, _, token = request.headers.get("Authorization", "").partition(" ")
        if not token:
            raise PermissionError("no token")
        return context(verify(token))

    def query_too(request):
        token = request.args.get("access_token")
        return context(verify(token)) if token else solution(request)

    def body_fills_in(request):
        header = request.headers.get("Authorization", "")
        if not header.startswith("Bearer "):
            raise PermissionError("no bearer token")
        claims = verify(header.removeprefix("Bearer "))
        data = body(request)
        return TenantContext(claims.get("custom:tenant_id") or data["tenant_id"],
                             claims.get("custom:tenant_tier") or data.get("tenant_tier", "basic"),
                             claims["cognito:username"])

    def header_fills_tier(request):
        header = request.headers.get("Authorization", "")
        if not header.startswith("Bearer "):
            raise PermissionError("no bearer token")
        claims = verify(header.removeprefix("Bearer "))
        if not claims.get("custom:tenant_id"):
            raise PermissionError("no tenant")
        return TenantContext(claims["custom:tenant_id"], claims.get("custom:tenant_tier")
                             or request.headers["X-Tenant-Tier"], claims["cognito:username"])

    remembered: dict = {}

    def cached_by_header(request):
        header = request.headers.get("Authorization", "")
        if header not in remembered:
            remembered[header] = solution(request)
        return remembered[header]

    def other_headers_too(request):
        token = request.headers.get("X-Id-Token") or request.cookies.get("id_token")
        return context(verify(token)) if token else solution(request)

    by_subject: dict = {}

    def cached_by_unverified_sub(request):
        header = request.headers.get("Authorization", "")
        if not header.startswith("Bearer "):
            raise PermissionError("no bearer token")
        sub = jwt.decode(header[7:], options={"verify_signature": False})["sub"]
        if sub not in by_subject:
            by_subject[sub] = solution(request)
        return by_subject[sub]

    def unverified(request):
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        if scheme != "Bearer":
            raise PermissionError("no bearer token")
        return context(jwt.decode(token, options={"verify_signature": False}))

    def anonymous_default(request):
        if "Authorization" not in request.headers:
            return TenantContext("tenant-a", "basic", "anonymous")
        return solution(request)

    def raw_token_too(request):
        header = request.headers.get("Authorization", "")
        return context(verify(header.removeprefix("Bearer ")))

    def bearer_token(request):
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token:
            raise PermissionError("no bearer token")
        return token.strip()

    def sliced(request):
        return context(verify(request.headers.get("Authorization", "")[7:]))

    def bearer_anywhere(request):
        header = request.headers.get("Authorization", "")
        if "bearer" not in header.lower() or " " not in header:
            raise PermissionError("no bearer token")
        return context(verify(header.split(" ")[1]))

    def jwt_scheme_too(request):
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() not in ("bearer", "jwt") or not token:
            raise PermissionError("no token")
        return context(verify(token.strip()))

    def header_fills_tenant(request):
        claims = verify(bearer_token(request))
        if not claims.get("custom:tenant_id") and request.headers.get("X-Tenant-Id"):
            claims = {**claims, "custom:tenant_id": request.headers["X-Tenant-Id"]}
        return context(claims)

    def query_fills_tenant(request):
        claims = verify(bearer_token(request))
        return context({**{k: v for k, v in request.args.items()}, **claims})

    def body_merged(request):
        data = request.get_json(silent=True)
        return context({**verify(bearer_token(request)),
                        **(data if isinstance(data, dict) else {})})

    def form_too(request):
        if "Authorization" not in request.headers and request.form.get("access_token"):
            return context(verify(request.form["access_token"]))
        return solution(request)

    def cookie_too(request):
        if "Authorization" not in request.headers and request.cookies.get("token"):
            return context(verify(request.cookies["token"]))
        return solution(request)

    def auth_token_header_too(request):
        if "Authorization" not in request.headers and request.headers.get("X-Auth-Token"):
            return context(verify(request.headers["X-Auth-Token"]))
        return solution(request)

    by_header: dict = {}

    def cached_with_own_exp(request):
        header = request.headers.get("Authorization", "")
        if header not in by_header:
            ctx = solution(request)
            exp = jwt.decode(bearer_token(request), options={"verify_signature": False})["exp"]
            if exp <= datetime.now(UTC).timestamp():
                raise PermissionError("expired")
            by_header[header] = ctx
        return by_header[header]

    return [
        ("1.4", "trusts the body",
         (with_override(lambda r, c: (body(r).get("tenant_id", c.tenant_id), c.tier, c.user)),),
         "in the JSON body"),
        ("1.4", "takes tier and user from the body",
         (with_override(lambda r, c: (c.tenant_id, body(r).get("tier", c.tier),
                                      body(r).get("user", c.user))),), "another user in the JSON"),
        ("1.4", "trusts the query string",
         (with_override(lambda r, c: (r.args.get("tenant_id", c.tenant_id), c.tier, c.user)),),
         "in the query"),
        ("1.4", "trusts a custom header",
         (with_override(lambda r, c: (r.headers.get("X-Tenant-Id", c.tenant_id), c.tier,
                                      c.user)),), "X-Tenant-Id"),
        ("1.4", "lets X-Tenant-Tier upgrade the tier",
         (with_override(lambda r, c: (c.tenant_id, r.headers.get("X-Tenant-Tier", c.tier),
                                      c.user)),), "X-Tenant-Tier: premium header"),
        ("1.4", "lets anonymous callers in", (anonymous_default,), "no Authorization header"),
        ("1.4", "accepts a token without the Bearer scheme", (raw_token_too,), "bare token"),
        ("1.4", "accepts any scheme", (any_scheme,), "scheme 'Token'"),
        ("1.4", "accepts a token from the query string", (query_too,), "in the query string"),
        ("1.4", "accepts a token from another header or a cookie", (other_headers_too,),
         "X-Id-Token header and a cookie"),
        ("1.4", "caches contexts by the unverified sub", (cached_by_unverified_sub,),
         "without tenant claims"),
        ("1.4", "fills a missing tenant from the body", (body_fills_in,),
         "without tenant claims"),
        ("1.4", "fills a missing tier from a header", (header_fills_tier,),
         "without custom:tenant_tier"),
        ("1.4", "does not verify the token", (unverified,), "custom:tenant_id was edited"),
        ("1.4", "caches contexts by header value", (cached_by_header,), "three days later"),
        ("1.4", "slices the header at 7 without a scheme check", (sliced,), "Basic0"),
        ("1.4", "accepts the scheme JWT too", (jwt_scheme_too,), "Basic0"),
        ("1.4", "looks for 'bearer' anywhere in the header", (bearer_anywhere,), "Basic0"),
        ("1.4", "fills a missing tenant from X-Tenant-Id", (header_fills_tenant,),
         "without custom:tenant_id, with tenant-b"),
        ("1.4", "fills missing claims from the query", (query_fills_tenant,),
         "without tenant claims"),
        ("1.4", "merges the JSON body over the claims", (body_merged,),
         "namespaced claims of tenant-b in the JSON body"),
        ("1.4", "falls back to a token cookie", (cookie_too,), "X-Auth-Token and other"),
        ("1.4", "takes a token from a form body (RFC 6750)", (form_too,),
         "X-Auth-Token and other"),
        ("1.4", "falls back to an X-Auth-Token header", (auth_token_header_too,),
         "X-Auth-Token and other"),
        ("1.4", "caches by header, checking exp with datetime.now once", (cached_with_own_exp,),
         "three days later"),
    ]


def middleware_benign(s):
    verify, context = s["verify_token"], s["tenant_context"]

    def werkzeug_parsed(request):
        auth = request.authorization
        if auth is None or auth.type != "bearer" or not auth.token:
            raise PermissionError("expected a bearer token")
        return context(verify(auth.token))

    contexts: dict = {}

    def cache_until_exp(request):
        header = request.headers.get("Authorization", "")
        ctx, expires = contexts.get(header, (None, 0))
        if ctx is None or expires <= time.time():
            ctx = s["tenant_from_request"](request)
            token = header.partition(" ")[2]
            expires = jwt.decode(token, options={"verify_signature": False})["exp"]
            contexts[header] = (ctx, expires)
        return ctx

    by_datetime: dict = {}

    def cache_until_exp_datetime(request):
        header = request.headers.get("Authorization", "")
        hit = by_datetime.get(header)
        if hit and hit[0] > datetime.now(UTC).timestamp():
            return hit[1]
        ctx = s["tenant_from_request"](request)
        token = header.partition(" ")[2]
        exp = jwt.decode(token, options={"verify_signature": False})["exp"]
        by_datetime[header] = (exp, ctx)
        return ctx

    return [("1.4", werkzeug_parsed), ("1.4", cache_until_exp),
            ("1.4", cache_until_exp_datetime)]


# --- 1.5 partitioning ----------------------------------------------------------------------------


def partition_mutants(s):
    lab, save, list_orders = s["lab"], s["save_order"], s["list_orders"]

    def pages(read, **query):
        items = []
        while True:
            page = read(**query)
            items += page["Items"]
            if "LastEvaluatedKey" not in page:
                return items
            query["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def scan_list(table, ctx):
        return pages(table.scan, FilterExpression=Attr("tenant_id").eq(ctx.tenant_id))

    def scan_elsewhere(table, ctx):
        other = lab.settings.resource("dynamodb").Table(table.name)
        return pages(other.scan, FilterExpression=Attr("tenant_id").eq(ctx.tenant_id))

    def partiql(table, ctx):
        found = table.meta.client.execute_statement(
            Statement=f'SELECT * FROM "{table.name}" WHERE pk = ?',
            Parameters=[{"S": f"TENANT#{ctx.tenant_id}"}])["Items"]
        return [{k: TypeDeserializer().deserialize(v) for k, v in i.items()} for i in found]

    def prefix_list(table, ctx):
        return list_orders(table, ctx) + list_orders(
            table, TenantContext(ctx.tenant_id + "a", ctx.tier, ctx.user))

    def first_page(table, ctx):
        return table.query(KeyConditionExpression=Key("pk").eq(f"TENANT#{ctx.tenant_id}"))[
            "Items"]

    def duplicates(table, ctx):
        return list_orders(table, ctx) + first_page(table, ctx)[:1]

    def low_level(table, ctx):  # what a low-level client's Items look like
        return [{k: TypeSerializer().serialize(v) for k, v in item.items()}
                for item in list_orders(table, ctx)]

    def order_wins(table, ctx, order):
        table.put_item(Item={"tenant_id": ctx.tenant_id, **order,
                             "pk": f"TENANT#{ctx.tenant_id}", "sk": f"ORDER#{order['order_id']}"})

    def mass_assignment(table, ctx, order):
        item = {**order, "tenant_id": ctx.tenant_id}
        item.setdefault("pk", f"TENANT#{ctx.tenant_id}")
        item.setdefault("sk", f"ORDER#{order['order_id']}")
        table.put_item(Item=item)

    def bare_keys(table, ctx, order):
        table.put_item(Item={**order, "pk": ctx.tenant_id, "sk": order["order_id"]})

    def bare_list(table, ctx):
        return pages(table.query, KeyConditionExpression=Key("pk").eq(ctx.tenant_id))

    def order_sk_wins(table, ctx, order):
        table.put_item(Item={"sk": f"ORDER#{order['order_id']}", **order,
                             "pk": f"TENANT#{ctx.tenant_id}", "tenant_id": ctx.tenant_id})

    def capped(table, ctx, most=5):
        query = {"KeyConditionExpression": Key("pk").eq(f"TENANT#{ctx.tenant_id}")}
        items = []
        for _ in range(most):
            page = table.query(**query)
            items += page["Items"]
            if "LastEvaluatedKey" not in page:
                break
            query["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        return items

    memo: dict = {}

    def memoised(table, ctx):
        if (table.name, ctx.tenant_id) not in memo:
            memo[(table.name, ctx.tenant_id)] = list_orders(table, ctx)
        return memo[(table.name, ctx.tenant_id)]

    def ids_only(table, ctx, order):
        table.put_item(Item={"pk": f"TENANT#{ctx.tenant_id}", "sk": f"ORDER#{order['order_id']}",
                             "tenant_id": ctx.tenant_id, "order_id": order["order_id"]})

    def keys_only(table, ctx, order):
        table.put_item(Item={"pk": f"TENANT#{ctx.tenant_id}", "sk": f"ORDER#{order['order_id']}",
                             "tenant_id": ctx.tenant_id, "items": order.get("items", [])})

    return [
        ("1.5", "lists with Scan", (save, scan_list), "tenant-a reads with Query only"),
        ("1.5", "lists with PartiQL", (save, partiql), "tenant-a reads with Query only"),
        ("1.5", "scans through another client", (save, scan_elsewhere),
         "tenant-a reads with Query only"),
        ("1.5", "reads lookalike tenants", (save, prefix_list), "tenant-a returns exactly"),
        ("1.5", "reads the first page only", (save, first_page), "tenant-a returns exactly"),
        ("1.5", "returns an order twice", (save, duplicates), "tenant-a returns exactly"),
        ("1.5", "returns DynamoDB JSON", (save, low_level), "tenant-a returns exactly"),
        ("1.5", "returns the query response",
         (save, lambda table, ctx: table.query(
             KeyConditionExpression=Key("pk").eq(f"TENANT#{ctx.tenant_id}"))),
         "tenant-a returns exactly"),
        ("1.5", "lets the order's tenant_id win", (order_wins, list_orders), "context wins"),
        ("1.5", "lets the order's pk/sk win", (mass_assignment, list_orders), "own pk and sk"),
        ("1.5", "keys without TENANT#/ORDER#", (bare_keys, bare_list), "keys follow"),
        ("1.5", "stores the keys but not the order's order_id", (keys_only, list_orders),
         "records its tenant_id and order_id"),
        ("1.5", "lets the order's sk win", (order_sk_wins, list_orders), "own pk and sk"),
        ("1.5", "stores the ids but not the order's attributes", (ids_only, list_orders),
         "keeps the order's own attributes"),
        ("1.5", "reads at most 5 pages", (save, capped), "tenant-b returns exactly"),
        ("1.5", "returns only the order ids",
         (save, lambda table, ctx: [{"order_id": i["order_id"]} for i in list_orders(table, ctx)]),
         "tenant-a returns exactly"),
        ("1.5", "remembers each tenant's list in the process", (save, memoised),
         "tenant-aa again"),
    ]


def partition_benign(s):
    def pk_only(table, ctx):
        query = {"KeyConditionExpression": Key("pk").eq(f"TENANT#{ctx.tenant_id}")}
        items = []
        while True:
            page = table.query(**query)
            items.extend(page["Items"])
            if not page.get("LastEvaluatedKey"):
                return items
            query["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def batch_save(table, ctx, order):
        with table.batch_writer() as batch:
            batch.put_item(Item=dict(order, tenant_id=ctx.tenant_id, pk="TENANT#" + ctx.tenant_id,
                                     sk="ORDER#" + order["order_id"]))

    return [("1.5", batch_save, pk_only)]


# --- 1.6 sharding --------------------------------------------------------------------------------


def sharding_mutants(s):
    sharded, query_all = s["sharded_pk"], s["query_all_shards"]

    def one_shard_pages(table, tenant_id, shard, paginate=True):
        query = {"KeyConditionExpression": Key("pk").eq(f"TENANT#{tenant_id}#{shard}")}
        items = []
        while True:
            page = table.query(**query)
            items += page["Items"]
            if not paginate or "LastEvaluatedKey" not in page:
                return items
            query["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def builtin_hash(tenant_id, order_id, shards):
        return f"TENANT#{tenant_id}#{hash(order_id) % shards}"

    def builtin_hash_of_key(tenant_id, order_id, shards):
        return f"TENANT#{tenant_id}#{abs(hash(tenant_id + '#' + order_id)) % shards}"

    def eight_shards(tenant_id, order_id, shards):
        return f"TENANT#{tenant_id}#{int(hashlib.sha256(order_id.encode()).hexdigest(), 16) % 8}"

    memo: dict = {}
    turn = [0]

    def by_turns(tenant_id, order_id, shards):
        if order_id not in memo:
            memo[order_id] = turn[0] % shards
            turn[0] += 1
        return f"TENANT#{tenant_id}#{memo[order_id]}"

    used: set = set()

    def registering(tenant_id, order_id, shards):
        pk = sharded(tenant_id, order_id, shards)
        used.add(pk)
        return pk

    def from_registry(table, tenant_id, shards):
        return [i for pk in sorted(used) if pk.startswith(f"TENANT#{tenant_id}#")
                for i in one_shard_pages(table, tenant_id, pk.rsplit("#", 1)[1])]

    def low_level(table, tenant_id, shards):  # what a low-level client's Items look like
        return [{k: TypeSerializer().serialize(v) for k, v in item.items()}
                for item in query_all(table, tenant_id, shards)]

    assigned: dict = {}

    @lru_cache(maxsize=4096)
    def random_remembered(tenant_id, order_id, shards):
        key = (tenant_id, str(order_id), shards)
        if key not in assigned:
            assigned[key] = random.randrange(shards)
        return f"TENANT#{tenant_id}#{assigned[key]}"

    @lru_cache(maxsize=4096)
    def bytes_hash(tenant_id, order_id, shards):
        return f"TENANT#{tenant_id}#{hash(order_id.encode()) % shards}"

    def numeric_part(tenant_id, order_id, shards):
        return f"TENANT#{tenant_id}#{int(re.sub(r'[^0-9]', '', order_id)) % shards}"

    def last_number(tenant_id, order_id, shards):
        digits = re.findall(r"[0-9]+", order_id) or ["0"]
        return f"TENANT#{tenant_id}#{int(digits[-1]) % shards}"

    remembered: dict = {}

    def remembering_reader(table, tenant_id, shards):
        if (tenant_id, shards) not in remembered:
            remembered[(tenant_id, shards)] = query_all(table, tenant_id, shards)
        return remembered[(tenant_id, shards)]

    cached: dict = {}

    def hash_cached(tenant_id, order_id, shards):  # an adversary's: the cache travels along
        key = str(order_id)
        if key not in cached:
            cached[key] = hash(key) % shards
        return f"TENANT#{tenant_id}#{cached[key]}"

    lock = threading.Lock()  # nothing a fresh process can rebuild: it cannot look there

    def hash_behind_a_lock(tenant_id, order_id, shards):
        with lock:
            return f"TENANT#{tenant_id}#{hash(f'{order_id}') % shards}"

    def until_empty(table, tenant_id, shards):
        found = []
        for shard in range(shards):
            items = one_shard_pages(table, tenant_id, shard)
            if not items:
                break
            found += items
        return found

    return [
        ("1.6", "stops at the first empty shard", (sharded, until_empty),
         "shards reads with Query only"),
        ("1.6", "remembers each reading in the process", (sharded, remembering_reader),
         "tenant-e over 4 shards again"),
        ("1.6", "picks a random shard, remembered in a dict, with lru_cache",
         (random_remembered, query_all), "fresh Python process"),
        ("1.6", "hash() of the order id's bytes, with lru_cache", (bytes_hash, query_all),
         "fresh Python process"),
        ("1.6", "numeric part of the order id mod shards", (numeric_part, query_all),
         "sharded_pk for 160"),
        ("1.6", "last number in the order id mod shards", (last_number, query_all),
         "spread over all"),
        ("1.6", "picks a random shard",
         (lambda t, o, n: f"TENANT#{t}#{random.randrange(n)}", query_all), "sharded_pk for 160"),
        ("1.6", "puts everything in shard 0", (lambda t, o, n: f"TENANT#{t}#0", query_all),
         "spread over all"),
        ("1.6", "uses hash() of the order id", (builtin_hash, query_all),
         "fresh Python process"),
        ("1.6", "hash() answers cached in a module-level dict", (hash_cached, query_all),
         "fresh Python process"),
        ("1.6", "hash() of an f-string, next to a global no process can rebuild",
         (hash_behind_a_lock, query_all), "fresh Python process"),
        ("1.6", "uses hash() of tenant and order", (builtin_hash_of_key, query_all),
         "fresh Python process"),
        ("1.6", "assigns shards by turns, remembered in the process", (by_turns, query_all),
         "fresh Python process"),
        ("1.6", "always uses 8 shards", (eight_shards, query_all), "44 orders of tenant-a"),
        ("1.6", "hashes the tenant id, not the order id",
         (lambda t, o, n: f"TENANT#{t}#{zlib.crc32(t.encode()) % n}", query_all),
         "spread over all"),
        ("1.6", "reads only one shard", (sharded, lambda t, tid, n: query_all(t, tid, 1)),
         "tenant-c over 12 shards reads with Query only"),
        ("1.6", "reads 8 shards whatever the count",
         (sharded, lambda t, tid, n: query_all(t, tid, 8)),
         "tenant-c over 12 shards reads with Query only"),
        ("1.6", "scans instead of querying",
         (sharded, lambda t, tid, n: t.scan(FilterExpression=Attr("tenant_id").eq(tid))["Items"]),
         "for tenant-c over 12 shards reads with Query only"),
        ("1.6", "reads the first page of each shard only",
         (sharded, lambda t, tid, n: [i for k in range(n)
                                      for i in one_shard_pages(t, tid, k, paginate=False)]),
         "every order of tenant-a"),
        ("1.6", "reads shard 0 twice",
         (sharded, lambda t, tid, n: query_all(t, tid, n) + one_shard_pages(t, tid, 0)),
         "every order of tenant-c"),
        ("1.6", "reads the shards this process wrote", (registering, from_registry),
         "tenant-cc over 5 shards reads with Query only"),
        ("1.6", "returns DynamoDB JSON", (sharded, low_level), "every order of tenant-c"),
    ]


def sharding_benign(s):
    def crc_shard(tenant_id, order_id, shards):
        return f"TENANT#{tenant_id}#{zlib.crc32(order_id.encode()) % shards}"

    def sequential(table, tenant_id, shards):
        found = []
        for shard in range(shards):
            kwargs = {"KeyConditionExpression": Key("pk").eq(f"TENANT#{tenant_id}#{shard}")}
            while True:
                page = table.query(**kwargs)
                found += page["Items"]
                if "LastEvaluatedKey" not in page:
                    break
                kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        return found

    def uuid_shard(tenant_id, order_id, shards):
        return f"TENANT#{tenant_id}#{uuid.uuid5(uuid.NAMESPACE_OID, order_id).int % shards}"

    return [("1.6", crc_shard, sequential), ("1.6", s["sharded_pk"], sequential),
            ("1.6", lru_cache(crc_shard), sequential), ("1.6", uuid_shard, sequential)]


# --- the tests -----------------------------------------------------------------------------------

MUTANTS = {"1.1": sign_in_mutants, "1.2": verify_mutants, "1.3": context_mutants,
           "1.4": middleware_mutants, "1.5": partition_mutants, "1.6": sharding_mutants}
BENIGN = {"1.1": sign_in_benign, "1.2": verify_benign, "1.3": context_benign,
          "1.4": middleware_benign, "1.5": partition_benign, "1.6": sharding_benign}


@pytest.mark.parametrize("exercise", sorted(MUTANTS))
def test_every_check_catches_its_classic_mistakes(solution, exercise):
    assert_caught(MUTANTS[exercise](solution))


@pytest.mark.parametrize("exercise", sorted(BENIGN))
def test_correct_answers_written_differently_pass(solution, exercise):
    assert_accepted(BENIGN[exercise](solution))


def test_a_learner_shape_mistake_is_a_teaching_report(solution):
    outcome = run("1.5", *[m for m in partition_mutants(solution)
                           if m[1] == "returns DynamoDB JSON"][0][2])
    assert "DynamoDB JSON" in outcome.message and "bug in the kit" not in outcome.message


def test_the_code_step_is_not_in_the_first_report(solution):
    assert run("1.2", solution["verify_token"]).passed  # forgets earlier failures
    mutant = verify_mutants(solution)[0][2]
    first = run("1.2", *mutant).message
    second = run("1.2", *mutant).message
    assert "jwt.decode(token, key" not in first and "jwt.decode(token, key" in second


def test_the_allowed_partition_reads_are_dynamodb_operations():
    import botocore.session

    from checks.scratch import PARTITION_READS

    operations = botocore.session.get_session().get_service_model("dynamodb").operation_names
    assert PARTITION_READS <= set(operations)
    assert {"Scan", "ExecuteStatement", "BatchExecuteStatement"} <= set(operations) - \
        PARTITION_READS


def test_lab_1_has_its_six_exercises():
    assert exercise_ids(1) == ["1.1", "1.2", "1.3", "1.4", "1.5", "1.6"]


def test_a_middleware_that_hangs_inside_the_service_does_not_hang_the_check(lab):
    def hangs(request):
        time.sleep(60)

    started = time.monotonic()
    outcome = run("1.4", hangs, timeout=1)
    assert time.monotonic() - started < 15
    assert not outcome.passed and "does your function hang" in outcome.message
