"""Lab 1's checks pass on the solution and catch each classic mistake.

The solution functions come from solutions/01-tenant-context.ipynb itself. Each
mutant below is one realistic bug; the test names the case that must catch it,
so a check that loses its teeth fails here.
"""

from __future__ import annotations

import random

import jwt
import pytest
from boto3.dynamodb.conditions import Attr, Key
from mutants import escaped

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
    assert outcome.cases >= 4 and not outcome.skipped


def mutants(s):
    """(exercise, bug, functions, the case that must catch it)."""
    lab = s["lab"]

    def verifier(token_use=True, options=None, **changes):
        kwargs = {"algorithms": ["RS256"], "audience": lab.identity.client_id,
                  "issuer": lab.identity.issuer,
                  "options": {"require": ["exp", "iat", "token_use"], **(options or {})},
                  **changes}

        def verify(token):
            key = s["jwks"].get_signing_key_from_jwt(token).key
            claims = jwt.decode(token, key, **kwargs)
            if token_use and claims["token_use"] != "id":
                raise jwt.InvalidTokenError("not an ID token")
            return claims
        return verify

    def swallow(username, password):
        try:
            return s["sign_in"](username, password)
        except Exception:
            return None

    def from_body(request):
        ctx = s["tenant_from_request"](request)
        body = request.get_json(silent=True) or {}
        return TenantContext(body.get("tenant_id", ctx.tenant_id), ctx.tier, ctx.user)

    def from_query(request):
        ctx = s["tenant_from_request"](request)
        return TenantContext(request.args.get("tenant_id", ctx.tenant_id), ctx.tier, ctx.user)

    def from_header(request):
        ctx = s["tenant_from_request"](request)
        return TenantContext(request.headers.get("X-Tenant-Id", ctx.tenant_id), ctx.tier, ctx.user)

    def anonymous_default(request):
        if "Authorization" not in request.headers:
            return TenantContext("tenant-a", "basic", "anonymous")
        return s["tenant_from_request"](request)

    def raw_token_too(request):
        header = request.headers.get("Authorization", "")
        return s["tenant_context"](s["verify_token"](header.removeprefix("Bearer ")))

    def scan_list(table, ctx):
        return table.scan(FilterExpression=Attr("tenant_id").eq(ctx.tenant_id))["Items"]

    def prefix_list(table, ctx):
        return table.query(KeyConditionExpression=Key("pk").eq(f"TENANT#{ctx.tenant_id}"))[
            "Items"] + (table.query(KeyConditionExpression=Key("pk").eq(
                f"TENANT#{ctx.tenant_id}a"))["Items"])  # what begins_with on pk would return

    def order_wins(table, ctx, order):
        table.put_item(Item={"tenant_id": ctx.tenant_id, **order,
                             "pk": f"TENANT#{ctx.tenant_id}", "sk": f"ORDER#{order['order_id']}"})

    def bare_keys(table, ctx, order):
        table.put_item(Item={**order, "pk": ctx.tenant_id, "sk": order["order_id"]})

    def bare_list(table, ctx):
        return table.query(KeyConditionExpression=Key("pk").eq(ctx.tenant_id))["Items"]

    def first_shard_only(table, tenant_id, shards):
        return s["query_all_shards"](table, tenant_id, 1)

    def scan_shards(table, tenant_id, shards):
        return table.scan(FilterExpression=Attr("tenant_id").eq(tenant_id))["Items"]

    return [
        ("1.1", "returns the whole response", (lambda u, p: {"AuthenticationResult": 1},),
         "sign in as arthur"),
        ("1.1", "returns None on failure", (swallow,), "a wrong password"),
        ("1.2", "decodes without verifying",
         (lambda token: jwt.decode(token, options={"verify_signature": False}),),
         "custom:tenant_id was edited"),
        ("1.2", "does not require exp", (verifier(options={"require": ["iat"]}),), "no exp claim"),
        ("1.2", "turns off the expiry check",
         (verifier(options={"verify_exp": False, "require": ["exp"]}),), "expired two minutes"),
        ("1.2", "does not check the issuer", (verifier(issuer=None),), "another user pool"),
        ("1.2", "does not check the audience",
         (verifier(audience=None, options={"verify_aud": False}),), "another app client"),
        ("1.2", "does not check token_use", (verifier(token_use=False),), "token_use 'access'"),
        ("1.2", "raises a non-JWT error",
         (lambda token: (_ for _ in ()).throw(ValueError("bad token"))
          if token != s["tokens"]["IdToken"] else {},), "a genuine ID token"),
        ("1.3", "defaults to tenant-a",
         (lambda c: TenantContext(c.get("custom:tenant_id", "tenant-a"),
                                  c.get("custom:tenant_tier", "basic"), c["cognito:username"]),),
         "without custom:tenant_id"),
        ("1.3", "accepts an empty tenant",
         (lambda c: TenantContext(c["custom:tenant_id"], c["custom:tenant_tier"],
                                  c["cognito:username"]),), "empty custom:tenant_id"),
        ("1.3", "returns a dict", (lambda c: {"tenant_id": c["custom:tenant_id"]},),
         "verified claims of arthur"),
        ("1.4", "trusts the body", (from_body,), "in the JSON body"),
        ("1.4", "trusts the query string", (from_query,), "in the query"),
        ("1.4", "trusts a custom header", (from_header,), "X-Tenant-Id"),
        ("1.4", "lets anonymous callers in", (anonymous_default,), "no Authorization header"),
        ("1.4", "accepts a token without the Bearer scheme", (raw_token_too,), "bare token"),
        ("1.5", "lists with Scan", (s["save_order"], scan_list), "sees exactly its own"),
        ("1.5", "reads lookalike tenants", (s["save_order"], prefix_list), "tenant-a sees"),
        ("1.5", "lets the order's tenant_id win", (order_wins, s["list_orders"]), "context wins"),
        ("1.5", "keys without TENANT#/ORDER#", (bare_keys, bare_list), "keys follow"),
        ("1.6", "picks a random shard",
         (lambda t, o, n: f"TENANT#{t}#{random.randrange(n)}", s["query_all_shards"]),
         "sharded_pk for 160"),
        ("1.6", "puts everything in shard 0",
         (lambda t, o, n: f"TENANT#{t}#0", s["query_all_shards"]), "spread over all"),
        ("1.6", "reads only one shard", (s["sharded_pk"], first_shard_only), "reads back"),
        ("1.6", "scans instead of querying", (s["sharded_pk"], scan_shards), "reads back"),
    ]


def test_every_check_catches_its_classic_mistakes(solution):
    slipped = escaped(mutants(solution))
    assert not slipped, "\n".join(slipped)


def test_lab_1_has_its_six_exercises():
    assert exercise_ids(1) == ["1.1", "1.2", "1.3", "1.4", "1.5", "1.6"]


def test_a_middleware_that_hangs_inside_the_service_does_not_hang_the_check(lab):
    import time

    def hangs(request):
        time.sleep(60)

    started = time.monotonic()
    outcome = run("1.4", hangs, timeout=1)
    assert time.monotonic() - started < 15
    assert not outcome.passed and "does your function hang" in outcome.message
