"""Lab 4's checks 4.1 to 4.3 pass on the solution and benign variants, and catch each mutant.

The solution functions come from solutions/04-routing.ipynb itself. Each mutant is one realistic
routing or throttling bug (a default route, a header the caller typed, a quota table instead of
the token's claims, a bucket for everybody, a wall clock, a refill that overflows or rounds
down); the row names the case that must catch it. The benign variants are correct answers
written differently: a check that fails one is wrong too.
"""

from __future__ import annotations

import functools
import math
import threading
import time
from fractions import Fraction

import jwt
import lab04_solution
import pytest
import requests
from boto3.dynamodb.conditions import Attr, Key
from mutants import assert_accepted, assert_caught

from checks import run
from checks.notebook_code import exercise_ids, functions_for
from environment.account.tenants import TENANTS, TIERS
from environment.account.tenants import tenant as lab_tenant
from environment.app.auth import bearer_token, jwks_client, tenant_resolver, verify_id_token
from environment.app.service import current_tenant


@pytest.fixture(scope="module")
def solution(lab):
    return lab04_solution.solution()


@pytest.mark.parametrize("exercise", [e for e in exercise_ids(4) if e in ("4.1", "4.2", "4.3")])
def test_the_solution_passes(solution, exercise):
    outcome = run(exercise, *functions_for(exercise, solution))
    assert outcome.passed, outcome.message
    assert outcome.cases >= 8 and not outcome.skipped, outcome.skipped


# --- 4.1 ingress routing -------------------------------------------------------------------------


def route_mutants(s):
    lab = s["lab"]

    def claims_of(headers):
        return verify_id_token(lab.identity, bearer_token(headers))

    def lookup(routes, tenant_id):
        return routes.get_item(Key={"pk": f"TENANT#{tenant_id}", "sk": "ROUTE"}).get("Item")

    def unverified(headers, routes):
        tenant_id = jwt.decode(bearer_token(headers),
                               options={"verify_signature": False})["custom:tenant_id"]
        item = lookup(routes, tenant_id)
        if item is None:
            raise PermissionError(tenant_id)
        return item["deployment"]

    def default_route(headers, routes):
        item = lookup(routes, claims_of(headers)["custom:tenant_id"])
        return item["deployment"] if item else "pool"

    def by_tier(headers, routes):
        claims = claims_of(headers)
        tier = claims["custom:tenant_tier"]
        return f"silo-{claims['custom:tenant_id']}" if tier == "premium" else "pool"

    def hard_coded(headers, routes):
        return {"tenant-c": "silo-tenant-c"}.get(claims_of(headers)["custom:tenant_id"], "pool")

    def header_wins(headers, routes):
        tenant_id = headers.get("x-app-tenant-id") or claims_of(headers)["custom:tenant_id"]
        item = lookup(routes, tenant_id)
        if item is None:
            raise PermissionError(tenant_id)
        return item["deployment"]

    def key_error(headers, routes):
        tenant_id = claims_of(headers)["custom:tenant_id"]
        return routes.get_item(Key={"pk": f"TENANT#{tenant_id}", "sk": "ROUTE"})["Item"][
            "deployment"]

    def scan_prefix(headers, routes):
        tenant_id = claims_of(headers)["custom:tenant_id"]
        for item in routes.scan(FilterExpression=Attr("pk").begins_with(
                f"TENANT#{tenant_id}"))["Items"]:
            return item["deployment"]
        raise PermissionError(tenant_id)

    def scan_exact(headers, routes):
        tenant_id = claims_of(headers)["custom:tenant_id"]
        for item in routes.scan()["Items"]:
            if item["pk"] == f"TENANT#{tenant_id}":
                return item["deployment"]
        raise PermissionError(tenant_id)

    def everything_forbidden(headers, routes):
        try:
            tenant_id = claims_of(headers)["custom:tenant_id"]
        except Exception as error:
            raise PermissionError(str(error)) from None
        item = lookup(routes, tenant_id)
        if item is None:
            raise PermissionError(tenant_id)
        return item["deployment"]

    def whole_item(headers, routes):
        item = lookup(routes, claims_of(headers)["custom:tenant_id"])
        if item is None:
            raise PermissionError("no route")
        return item

    labs_table = lab.table("routes")

    def the_labs_table(headers, routes):
        return s["route_for"](headers, labs_table)

    def no_audience(headers, routes):
        token = bearer_token(headers)
        key = jwt.PyJWKClient(lab.identity.jwks_url).get_signing_key_from_jwt(token)
        claims = jwt.decode(token, key.key, algorithms=["RS256"], options={"verify_aud": False})
        item = lookup(routes, claims["custom:tenant_id"])
        if item is None:
            raise PermissionError("no route")
        return item["deployment"]

    def tier_fallback(headers, routes):
        claims = claims_of(headers)
        item = lookup(routes, claims["custom:tenant_id"])
        if item is not None:
            return item["deployment"]
        if TIERS[claims["custom:tenant_tier"]].deployment == "pool":
            return "pool"
        raise PermissionError("no route")

    def email_domain(headers, routes):
        claims = claims_of(headers)
        tenant_id = claims["email"].split("@")[1].split(".")[0]
        item = lookup(routes, tenant_id)
        if item is None:
            raise PermissionError(tenant_id)
        return item["deployment"]

    def routed(routes, tenant_id):
        item = lookup(routes, tenant_id)
        if item is None:
            raise PermissionError(f"no route for {tenant_id}")
        return item["deployment"]

    @functools.lru_cache(maxsize=64)
    def remembered_claims(token):
        return verify_id_token(lab.identity, token)

    def cached_claims(headers, routes):
        return routed(routes, remembered_claims(bearer_token(headers))["custom:tenant_id"])

    def own_decode(token, key, leeway=0):
        claims = jwt.decode(token, key, algorithms=["RS256"], audience=lab.identity.client_id,
                            issuer=lab.identity.issuer, leeway=leeway,
                            options={"require": ["exp", "iat", "token_use"]})
        if claims["token_use"] != "id":
            raise jwt.InvalidTokenError("not an ID token")
        return claims

    def pool_key(token):
        return jwks_client(lab.identity.jwks_url).get_signing_key_from_jwt(token).key

    def half_a_day_leeway(headers, routes):
        token = bearer_token(headers)
        return routed(routes, own_decode(token, pool_key(token), 12 * 3600)["custom:tenant_id"])

    def keys_from_jku(headers, routes):
        token = bearer_token(headers)
        url = jwt.get_unverified_header(token).get("jku") or lab.identity.jwks_url
        key = jwt.PyJWKClient(url).get_signing_key_from_jwt(token).key
        return routed(routes, own_decode(token, key)["custom:tenant_id"])

    def key_from_jwk(headers, routes):
        token = bearer_token(headers)
        embedded = jwt.get_unverified_header(token).get("jwk")
        key = jwt.PyJWK(embedded).key if embedded else pool_key(token)
        return routed(routes, own_decode(token, key)["custom:tenant_id"])

    def premium_gets_its_silo(headers, routes):
        claims = claims_of(headers)
        item = lookup(routes, claims["custom:tenant_id"])
        if item is None and claims["custom:tenant_tier"] == "premium":
            return f"silo-{claims['custom:tenant_id']}"
        return routed(routes, claims["custom:tenant_id"])

    known = {tenant.id for tenant in TENANTS}

    def new_tenants_start_in_the_pool(headers, routes):
        tenant_id = claims_of(headers)["custom:tenant_id"]
        if tenant_id not in known and lookup(routes, tenant_id) is None:
            return "pool"
        return routed(routes, tenant_id)

    remembered_routes: dict = {}

    def route_cache(headers, routes):
        key = (routes.name, claims_of(headers)["custom:tenant_id"])
        if key not in remembered_routes:
            remembered_routes[key] = routed(routes, key[1])
        return remembered_routes[key]

    def override_header(headers, routes):
        claims = claims_of(headers)
        return headers.get("x-route-to") or routed(routes, claims["custom:tenant_id"])

    def load_balancer_header(headers, routes):
        claims = claims_of(headers)
        return routed(routes, headers.get("x-amzn-oidc-tenant") or claims["custom:tenant_id"])

    def default_outside_the_checks_table(headers, routes):
        tenant_id = claims_of(headers)["custom:tenant_id"]
        if lookup(routes, tenant_id) is None and "check" not in routes.name:
            return "pool"
        return routed(routes, tenant_id)

    def default_route_in_the_notebook(headers, routes):
        tenant_id = claims_of(headers)["custom:tenant_id"]
        if lookup(routes, tenant_id) is None and threading.current_thread().name == "MainThread":
            return "pool"
        return routed(routes, tenant_id)

    def first_item_of_the_partition(headers, routes):
        tenant_id = claims_of(headers)["custom:tenant_id"]
        items = routes.query(KeyConditionExpression=Key("pk").eq(f"TENANT#{tenant_id}"))["Items"]
        if not items:
            raise PermissionError(tenant_id)
        return items[0]["deployment"]

    return [
        ("4.1", "the first item of the tenant's partition, whatever its sort key",
         (first_item_of_the_partition,), "sort key ROUTE"),
        ("4.1", "a default route, but only on the main thread (where a notebook runs it)",
         (default_route_in_the_notebook,), "nobody onboarded"),
        ("4.1", "caches claims by token string (exp never checked again)", (cached_claims,),
         "three days later"),
        ("4.1", "a twelve-hour leeway on exp", (half_a_day_leeway,), "expired an hour ago"),
        ("4.1", "fetches keys from the token's jku header", (keys_from_jku,),
         "carry their own key"),
        ("4.1", "trusts a key embedded in the token's jwk header", (key_from_jwk,),
         "carry their own key"),
        ("4.1", "a premium tenant without a route goes to silo-<tenant>", (premium_gets_its_silo,),
         "nobody onboarded"),
        ("4.1", "tenants outside the lab's list start in the pool",
         (new_tenants_start_in_the_pool,), "nobody onboarded"),
        ("4.1", "remembers each tenant's route forever", (route_cache,),
         "moved to another deployment"),
        ("4.1", "an x-route-to header overrides the route", (override_header,),
         "headers the caller typed"),
        ("4.1", "the tenant from a load balancer's x-amzn-oidc-tenant header",
         (load_balancer_header,), "headers the caller typed"),
        ("4.1", "a default route except in a table named like the check's",
         (default_outside_the_checks_table,), "not in the mapping gets no route"),
        ("4.1", "takes the tenant from the email's domain", (email_domain,),
         "custom:tenant_id, not the user"),
        ("4.1", "decodes the token without verifying it", (unverified,), "forged"),
        ("4.1", "falls back to the pool for a tenant without a route", (default_route,),
         "not in the mapping gets no route"),
        ("4.1", "routes by tier, ignoring the mapping", (by_tier,), "mapping your code has not"),
        ("4.1", "hard-codes tenant-c's silo", (hard_coded,), "mapping your code has not"),
        ("4.1", "lets an x-app-tenant-id header choose", (header_wins,), "headers the caller"),
        ("4.1", "crashes with KeyError on a missing route", (key_error,),
         "not in the mapping gets no route"),
        ("4.1", "scans for the first route with the tenant's prefix", (scan_prefix,),
         "tenant-dd"),
        ("4.1", "scans the whole mapping for the caller's route", (scan_exact,),
         "reads the caller's route"),
        ("4.1", "answers every failure with PermissionError (403 for a bad token)",
         (everything_forbidden,), "no token, or another scheme"),
        ("4.1", "returns the whole route item", (whole_item,), "tenant-a's users"),
        ("4.1", "reads the lab's routes table, not the one it is given", (the_labs_table,),
         "mapping your code has not"),
        ("4.1", "verifies the signature but not the audience", (no_audience,), "forged"),
        ("4.1", "routes a pooled tier without a route to the pool", (tier_fallback,),
         "not in the mapping gets no route"),
    ]


def route_benign(s):
    lab = s["lab"]

    def by_query(headers, routes):
        tenant_id = verify_id_token(lab.identity, bearer_token(headers))["custom:tenant_id"]
        items = routes.query(KeyConditionExpression=Key("pk").eq(f"TENANT#{tenant_id}")
                             & Key("sk").eq("ROUTE"))["Items"]
        if not items:
            raise PermissionError(f"tenant {tenant_id} is not onboarded")
        return str(items[0]["deployment"])

    def own_parsing(headers, routes):
        scheme, _, token = headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise ValueError("no bearer token")
        tenant_id = verify_id_token(lab.identity, token.strip())["custom:tenant_id"]
        found = routes.get_item(Key={"pk": f"TENANT#{tenant_id}", "sk": "ROUTE"},
                                ConsistentRead=True)
        if "Item" not in found:
            raise PermissionError("unknown tenant")
        return found["Item"]["deployment"]

    return [("4.1", by_query), ("4.1", own_parsing)]


def test_4_1_catches_every_mutant(solution):
    assert_caught(route_mutants(solution))


def test_4_1_accepts_benign_variants(solution):
    assert_accepted(route_benign(solution))


# --- 4.2 service-to-service routing --------------------------------------------------------------


def _post(mesh, order, headers):
    return requests.post(f"{mesh}/fulfilments", json={"order_id": order["order_id"]},
                         headers=headers, timeout=5)


def fulfil_mutants(s):
    def done(answer):
        answer.raise_for_status()
        return answer.json()

    def auth(incoming):
        return {"Authorization": incoming.headers["Authorization"]}

    def copies_headers(incoming, order, mesh):
        ctx = current_tenant()
        return done(_post(mesh, order, {**auth(incoming),
                                        "x-app-tier": incoming.headers.get("x-app-tier",
                                                                           ctx.tier),
                                        "x-app-tenant-id": incoming.headers.get(
                                            "x-app-tenant-id", ctx.tenant_id)}))

    def forwards_everything(incoming, order, mesh):
        ctx = current_tenant()
        headers = {k.lower(): v for k, v in incoming.headers.items()
                   if k.lower() not in ("host", "content-length")}
        headers.setdefault("x-app-tier", ctx.tier)
        headers.setdefault("x-app-tenant-id", ctx.tenant_id)
        return done(_post(mesh, order, headers))

    def tier_from_query(incoming, order, mesh):
        ctx = current_tenant()
        return done(_post(mesh, order, {**auth(incoming),
                                        "x-app-tier": incoming.args.get("tier", ctx.tier),
                                        "x-app-tenant-id": ctx.tenant_id}))

    def always_basic(incoming, order, mesh):
        return done(_post(mesh, order, {**auth(incoming), "x-app-tier": "basic",
                                        "x-app-tenant-id": current_tenant().tenant_id}))

    def tier_by_tenant(incoming, order, mesh):
        ctx = current_tenant()
        tier = "premium" if ctx.tenant_id == "tenant-c" else "basic"
        return done(_post(mesh, order, {**auth(incoming), "x-app-tier": tier,
                                        "x-app-tenant-id": ctx.tenant_id}))

    def tier_from_the_tenant_list(incoming, order, mesh):
        ctx = current_tenant()
        return done(_post(mesh, order, {**auth(incoming),
                                        "x-app-tier": lab_tenant(ctx.tenant_id).tier,
                                        "x-app-tenant-id": ctx.tenant_id}))

    def no_token(incoming, order, mesh):
        ctx = current_tenant()
        return done(_post(mesh, order, {"x-app-tier": ctx.tier,
                                        "x-app-tenant-id": ctx.tenant_id}))

    def no_tenant_header(incoming, order, mesh):
        return done(_post(mesh, order, {**auth(incoming), "x-app-tier": current_tenant().tier}))

    def user_as_tenant(incoming, order, mesh):
        ctx = current_tenant()
        return done(_post(mesh, order, {**auth(incoming), "x-app-tier": ctx.tier,
                                        "x-app-tenant-id": ctx.user}))

    def swallows_errors(incoming, order, mesh):
        ctx = current_tenant()
        return _post(mesh, order, {**auth(incoming), "x-app-tier": ctx.tier,
                                   "x-app-tenant-id": ctx.tenant_id}).json()

    def failure_as_status(incoming, order, mesh):
        ctx = current_tenant()
        try:
            return done(_post(mesh, order, {**auth(incoming), "x-app-tier": ctx.tier,
                                            "x-app-tenant-id": ctx.tenant_id}))
        except requests.RequestException:
            return {"status": "pending"}

    def the_response(incoming, order, mesh):
        ctx = current_tenant()
        return _post(mesh, order, {**auth(incoming), "x-app-tier": ctx.tier,
                                   "x-app-tenant-id": ctx.tenant_id})

    def title_case_tier(incoming, order, mesh):
        ctx = current_tenant()
        return done(_post(mesh, order, {**auth(incoming), "x-app-tier": ctx.tier.title(),
                                        "x-app-tenant-id": ctx.tenant_id}))

    def tenant_header_from_caller(incoming, order, mesh):
        ctx = current_tenant()
        return done(_post(mesh, order, {**auth(incoming), "x-app-tier": ctx.tier,
                                        "x-app-tenant-id": incoming.headers.get(
                                            "x-app-tenant-id", ctx.tenant_id)}))

    first: dict = {}

    def first_callers_headers(incoming, order, mesh):
        ctx = current_tenant()
        headers = first.setdefault("headers", {**auth(incoming), "x-app-tier": ctx.tier,
                                               "x-app-tenant-id": ctx.tenant_id})
        return done(_post(mesh, order, headers))

    def routing(incoming, tier, tenant_id):
        return {**auth(incoming), "x-app-tier": tier, "x-app-tenant-id": tenant_id}

    def forwarded_headers(incoming, order, mesh):
        ctx = current_tenant()
        return done(_post(mesh, order, routing(
            incoming, incoming.headers.get("X-Forwarded-Tier", ctx.tier),
            incoming.headers.get("X-Forwarded-Tenant", ctx.tenant_id))))

    def requested_tier(incoming, order, mesh):
        ctx = current_tenant()
        return done(_post(mesh, order, routing(
            incoming, incoming.headers.get("X-Requested-Tier", ctx.tier), ctx.tenant_id)))

    rank = {"basic": 0, "advanced": 1, "premium": 2}

    def downgrade_allowed(incoming, order, mesh):
        ctx = current_tenant()
        typed = {k.lower(): v for k, v in incoming.headers.items()}.get("x-app-tier")
        tier = typed if rank.get(typed, 9) < rank[ctx.tier] else ctx.tier
        return done(_post(mesh, order, routing(incoming, tier, ctx.tenant_id)))

    def tenant_from_the_body(incoming, order, mesh):
        ctx = current_tenant()
        body = incoming.get_json(silent=True) or {}
        return done(_post(mesh, order, routing(incoming, ctx.tier,
                                               body.get("tenant") or ctx.tenant_id)))

    def queued_when_unreachable(incoming, order, mesh):
        ctx = current_tenant()
        try:
            answer = _post(mesh, order, routing(incoming, ctx.tier, ctx.tenant_id))
        except requests.ConnectionError:
            return {"order_id": order["order_id"], "status": "queued"}
        return done(answer)

    def silo_falls_back_to_the_pool(incoming, order, mesh):
        ctx = current_tenant()
        answer = _post(mesh, order, routing(incoming, ctx.tier, ctx.tenant_id))
        if not answer.ok and ctx.tier == "premium":
            answer = _post(mesh, order, routing(incoming, "basic", ctx.tenant_id))
        return done(answer)

    def raises_on_5xx_and_400_only(incoming, order, mesh):
        ctx = current_tenant()
        answer = _post(mesh, order, routing(incoming, ctx.tier, ctx.tenant_id))
        if answer.status_code >= 500 or answer.status_code == 400:
            answer.raise_for_status()
        return answer.json()

    return [
        ("4.2", "honours X-Forwarded-Tier / X-Forwarded-Tenant", (forwarded_headers,),
         "tenant-a's x-app-tier: premium"),
        ("4.2", "honours X-Requested-Tier", (requested_tier,), "tenant-a's x-app-tier: premium"),
        ("4.2", "lets a caller downgrade its tier by header", (downgrade_allowed,),
         "tenant-c's x-app-tier: basic"),
        ("4.2", "takes the tenant from the request body", (tenant_from_the_body,),
         "query string or the body"),
        ("4.2", "an unreachable mesh becomes a 'queued' fulfilment", (queued_when_unreachable,),
         "nobody answers"),
        ("4.2", "a premium tenant falls back to the pool when its silo fails",
         (silo_falls_back_to_the_pool,), "silo is gone"),
        ("4.2", "raises on 5xx and 400 only", (raises_on_5xx_and_400_only,), "answering 404"),
        ("4.2", "copies x-app-tier / x-app-tenant-id from the caller", (copies_headers,),
         "tenant-a's x-app-tier: premium"),
        ("4.2", "forwards the caller's headers, context only as a default",
         (forwards_everything,), "tenant-a's x-app-tier: premium"),
        ("4.2", "takes the tier from the query string", (tier_from_query,), "query string"),
        ("4.2", "always sends x-app-tier: basic", (always_basic,), "tenant-b (advanced)"),
        ("4.2", "derives the tier from the tenant id", (tier_by_tenant,), "tenant-b (advanced)"),
        ("4.2", "looks the tier up in the tenant list, not the context",
         (tier_from_the_tenant_list,), "the tier comes from the context"),
        ("4.2", "does not forward the caller's token", (no_token,), "an order of tenant-a"),
        ("4.2", "sends no x-app-tenant-id", (no_tenant_header,), "an order of tenant-a"),
        ("4.2", "sends the user as the tenant", (user_as_tenant,), "tenant-a (basic)"),
        ("4.2", "returns the mesh's error as if it were an answer", (swallows_errors,),
         "reported, not hidden"),
        ("4.2", "turns a failed hop into a 'pending' fulfilment", (failure_as_status,),
         "reported, not hidden"),
        ("4.2", "returns the response object", (the_response,), "an order of tenant-a"),
        ("4.2", "sends the tier title-cased", (title_case_tier,), "an order of tenant-a"),
        ("4.2", "keeps the first caller's headers for everybody", (first_callers_headers,),
         "tenant-b (advanced)"),
        ("4.2", "sets the tier from context, the tenant from the caller's header",
         (tenant_header_from_caller,), "tenant-a's x-app-tier: premium"),
    ]


def fulfil_benign(s):
    lab = s["lab"]
    resolve = tenant_resolver(lab.identity)
    session = requests.Session()

    def resolves_again(incoming, order, mesh):
        ctx = resolve(incoming)
        answer = session.post(f"{mesh}/fulfilments", json={"order_id": order["order_id"]},
                              timeout=(2, 5),
                              headers={"authorization": incoming.headers.get("Authorization"),
                                       "X-App-Tier": ctx.tier, "X-App-Tenant-Id": ctx.tenant_id})
        if not answer.ok:
            raise RuntimeError(f"fulfilment said {answer.status_code}: {answer.text}")
        return answer.json()

    def tenant_from_the_order(incoming, order, mesh):
        answer = _post(mesh, order, {"Authorization": incoming.headers["Authorization"],
                                     "x-app-tier": current_tenant().tier,
                                     "x-app-tenant-id": order["tenant_id"]})
        answer.raise_for_status()
        return answer.json()

    return [("4.2", resolves_again), ("4.2", tenant_from_the_order)]


def test_4_2_catches_every_mutant(solution):
    assert_caught(fulfil_mutants(solution))


def test_4_2_accepts_benign_variants(solution):
    assert_accepted(fulfil_benign(solution))


# --- 4.3 per-tenant throttling -------------------------------------------------------------------


def throttle_mutants(s):
    lab = s["lab"]

    def claims_of(headers):
        return verify_id_token(lab.identity, bearer_token(headers))

    def bucket_throttle(key=lambda c: c["custom:tenant_id"], quota=None, refill=None,
                        take_on_refusal=False, wait=None, start_empty=False, cap=True,
                        unverified=False, use_clock=True, admit_at=1.0, by_header=None,
                        full_wait=False):
        def make_throttle(clock=time.monotonic):
            buckets: dict = {}
            read = clock if use_clock else time.monotonic

            def admit(headers):
                if unverified:
                    claims = jwt.decode(bearer_token(headers),
                                        options={"verify_signature": False})
                else:
                    claims = claims_of(headers)
                rate, burst = (quota(claims, headers) if quota else (
                    float(claims["custom:quota_rate"]), float(claims["custom:quota_burst"])))
                now = read()
                name = (key(claims), headers.get(by_header)) if by_header else key(claims)
                tokens, last = buckets.get(name, (0.0 if start_empty else burst, now))
                added = refill(now - last, rate, burst) if refill else (now - last) * rate
                tokens = min(burst, tokens + added) if cap else tokens + added
                if tokens >= admit_at:
                    buckets[name] = (tokens - 1, now)
                    return 0
                buckets[name] = (tokens - 1 if take_on_refusal else tokens, now)
                if full_wait:
                    return (burst - tokens) / rate
                return wait(tokens, rate) if wait else (1 - tokens) / rate

            return admit

        return make_throttle

    def tier_table(claims, headers):
        tier = TIERS[claims["custom:tenant_tier"]]
        return tier.quota_rate, tier.quota_burst

    def from_headers(claims, headers):
        return (float(headers.get("X-Quota-Rate", claims["custom:quota_rate"])),
                float(headers.get("X-Quota-Burst", claims["custom:quota_burst"])))

    def fixed_window(clock=time.monotonic):
        counts: dict = {}

        def admit(headers):
            claims = claims_of(headers)
            window = math.floor(clock())
            key = (claims["custom:tenant_id"], window)
            counts[key] = counts.get(key, 0) + 1
            if counts[key] <= float(claims["custom:quota_burst"]):
                return 0
            return window + 1 - clock()

        return admit

    def since_the_start(clock=time.monotonic):
        state: dict = {}

        def admit(headers):
            claims = claims_of(headers)
            rate, burst = float(claims["custom:quota_rate"]), float(claims["custom:quota_burst"])
            start, used = state.get(claims["custom:tenant_id"], (clock(), 0))
            tokens = min(burst, burst + (clock() - start) * rate - used)
            if tokens >= 1:
                state[claims["custom:tenant_id"]] = (start, used + 1)
                return 0
            return (1 - tokens) / rate

        return admit

    def sliding_window(clock=time.monotonic):
        log: dict = {}

        def admit(headers):
            claims = claims_of(headers)
            now, burst = clock(), float(claims["custom:quota_burst"])
            recent = [at for at in log.get(claims["custom:tenant_id"], []) if at > now - 1]
            log[claims["custom:tenant_id"]] = recent
            if len(recent) < burst:
                recent.append(now)
                return 0
            return recent[0] + 1 - now

        return admit

    def tier_pool_too(clock=time.monotonic):
        tenants = bucket_throttle()(clock)
        tiers = bucket_throttle(key=lambda c: c["custom:tenant_tier"], quota=lambda c, h: (
            3 * float(c["custom:quota_rate"]), 3 * float(c["custom:quota_burst"])))(clock)

        def admit(headers):
            return tiers(headers) or tenants(headers)

        return admit

    def quota_cached(clock=time.monotonic):
        quotas: dict = {}
        return bucket_throttle(quota=lambda c, h: quotas.setdefault(c["custom:tenant_id"], (
            float(c["custom:quota_rate"]), float(c["custom:quota_burst"]))))(clock)

    def only_on_big_clocks(clock=time.monotonic):
        inner = bucket_throttle()(clock)

        def admit(headers):
            claims_of(headers)
            return inner(headers) if clock() >= 999_999 else 0

        return admit

    def never_on_the_main_thread(clock=time.monotonic):
        inner = bucket_throttle()(clock)

        def admit(headers):
            if threading.current_thread() is threading.main_thread():
                claims_of(headers)
                return 0
            return inner(headers)

        return admit

    one = bucket_throttle
    return [
        ("4.3", "never throttles on the main thread (where a notebook calls it)",
         (never_on_the_main_thread,), "a burst of exactly 5"),
        ("4.3", "tenants of a tier also share a tier-wide bucket", (tier_pool_too,),
         "never spends another's budget"),
        ("4.3", "a bucket per tenant and X-Forwarded-For",
         (one(by_header="X-Forwarded-For"),), "not from headers"),
        ("4.3", "a bucket per email domain", (one(key=lambda c: c["email"].split("@")[1]),),
         "not the user's email"),
        ("4.3", "refills at quota_burst per second",
         (one(refill=lambda elapsed, rate, burst: elapsed * burst),),
         "refills at quota_rate"),
        ("4.3", "refills at a fixed 5 per second",
         (one(refill=lambda elapsed, rate, burst: elapsed * 5),), "refills at quota_rate"),
        ("4.3", "a refill truncated to whole milliseconds",
         (one(refill=lambda elapsed, rate, burst: int(elapsed * 1000) * rate / 1000),),
         "slow trickle"),
        ("4.3", "Retry-After floored to whole seconds (at least 1)",
         (one(wait=lambda tokens, rate: max(1, math.floor((1 - tokens) / rate))),),
         "says how long to wait"),
        ("4.3", "Retry-After is the time to refill the whole bucket",
         (one(full_wait=True),), "says how long to wait"),
        ("4.3", "a bucket per tenant and quota", (one(key=lambda c: (
            c["custom:tenant_id"], c["custom:quota_rate"], c["custom:quota_burst"])),),
         "quota is raised"),
        ("4.3", "each tenant's quota read once and kept", (quota_cached,), "quota is raised"),
        ("4.3", "throttles only once the clock reads a million", (only_on_big_clocks,),
         "a burst of exactly 5"),
        ("4.3", "allowance counted from the first request, capped only on the way out",
         (since_the_start,), "never more than"),
        ("4.3", "a sliding one-second window of burst requests", (sliding_window,),
         "refills at quota_rate"),
        ("4.3", "one bucket for every tenant", (one(key=lambda c: "all"),),
         "never spends another's budget"),
        ("4.3", "a bucket per user", (one(key=lambda c: c["cognito:username"]),),
         "every user of a tenant"),
        ("4.3", "a bucket per tier, shared by its tenants", (one(key=lambda c: c[
            "custom:tenant_tier"]),), "never spends another's budget"),
        ("4.3", "the quota from a request header", (one(quota=from_headers),),
         "not from headers"),
        ("4.3", "the quota from a table of tiers, not the token", (one(quota=tier_table),),
         "a quota your code has not seen"),
        ("4.3", "the token's quota trusted without verifying it", (one(unverified=True),),
         "forged token"),
        ("4.3", "refills on the wall clock, not the one it is given", (one(use_clock=False),),
         "refills at quota_rate"),
        ("4.3", "a refill that overflows the burst", (one(cap=False),), "never more than"),
        ("4.3", "rounds each refill down to whole tokens",
         (one(refill=lambda elapsed, rate, burst: int(elapsed * rate)),), "slow trickle"),
        ("4.3", "a refused request takes a token too", (one(take_on_refusal=True),),
         "refills at quota_rate"),
        ("4.3", "off by one: burst + 1 pass", (one(admit_at=0.0),), "a burst of exactly 5"),
        ("4.3", "a negative Retry-After", (one(wait=lambda tokens, rate: tokens - 1),),
         "a burst of exactly 5"),
        ("4.3", "Retry-After always 1 s", (one(wait=lambda tokens, rate: 1.0),),
         "says how long to wait"),
        ("4.3", "Retry-After of a minute", (one(wait=lambda tokens, rate: 60.0),),
         "says how long to wait"),
        ("4.3", "a bucket that starts empty", (one(start_empty=True),), "a burst of exactly 5"),
        ("4.3", "a counter per whole second (fixed window)", (fixed_window,),
         "refills at quota_rate"),
    ]


def throttle_benign(s):
    lab = s["lab"]

    class TokenBuckets:
        def __init__(self, clock):
            self.clock, self.lock, self.state = clock, threading.Lock(), {}

        def __call__(self, headers):
            claims = verify_id_token(lab.identity, bearer_token(headers))
            rate = float(claims["custom:quota_rate"])
            burst = float(claims["custom:quota_burst"])
            with self.lock:
                now = self.clock()
                tokens, then = self.state.get(claims["custom:tenant_id"], (burst, now))
                tokens = min(burst, tokens + (now - then) * rate)
                ok = tokens >= 1
                self.state[claims["custom:tenant_id"]] = (tokens - ok, now)
            return 0.0 if ok else math.ceil((1 - tokens) / rate)

    def a_full_token_interval(clock=time.monotonic):
        solution = s["make_throttle"](clock)

        def admit(headers):
            wait = solution(headers)
            if wait == 0:
                return 0
            rate = float(verify_id_token(lab.identity, bearer_token(headers))[
                "custom:quota_rate"])
            return max(wait, 1 / rate)

        return admit

    def whole_tokens_exact_remainder(clock=time.monotonic):
        """Integer tokens, but the clock only moves by the tokens it paid out: nothing is lost."""
        buckets: dict = {}

        def admit(headers):
            claims = verify_id_token(lab.identity, bearer_token(headers))
            rate, burst = float(claims["custom:quota_rate"]), int(claims["custom:quota_burst"])
            now = clock()
            tokens, last = buckets.get(claims["custom:tenant_id"], (burst, now))
            added = int((now - last) * rate)
            if tokens + added >= burst:
                tokens, last = burst, now
            elif added:
                tokens, last = tokens + added, last + added / rate
            if tokens >= 1:
                buckets[claims["custom:tenant_id"]] = (tokens - 1, now if tokens == burst
                                                       else last)
                return 0
            buckets[claims["custom:tenant_id"]] = (tokens, last)
            return last + 1 / rate - now

        return admit

    def exact_fractions(clock=time.monotonic):
        buckets: dict = {}

        def admit(headers):
            claims = verify_id_token(lab.identity, bearer_token(headers))
            rate = Fraction(claims["custom:quota_rate"])
            burst = Fraction(claims["custom:quota_burst"])
            now = Fraction(clock())
            tokens, last = buckets.get(claims["custom:tenant_id"], (burst, now))
            tokens = min(burst, tokens + (now - last) * rate)
            admitted = tokens >= 1
            buckets[claims["custom:tenant_id"]] = (tokens - admitted, now)
            return 0 if admitted else (1 - tokens) / rate

        return admit

    return [("4.3", exact_fractions), ("4.3", TokenBuckets), ("4.3", a_full_token_interval),
            ("4.3", whole_tokens_exact_remainder)]


def test_4_3_catches_every_mutant(solution):
    assert_caught(throttle_mutants(solution))


def test_4_3_accepts_benign_variants(solution):
    assert_accepted(throttle_benign(solution))
