"""Checks of lab 1: tenant context and data partitioning."""

from __future__ import annotations

from collections import Counter
from typing import Any

import jwt
import requests

from environment.app.auth import verify_id_token
from environment.app.context import TenantContext
from environment.app.orders import create_order_service
from environment.app.serving import serve
from environment.lab import current
from environment.tenants import TENANTS

from .forgery import forgeries
from .framework import NotStarted, Trial, exercise, short
from .scratch import fresh_table, raw_items

ALICE = TENANTS[0].users[0]


def preview(token: str) -> str:
    return token if len(token) <= 40 else f"{token[:24]}...{token[-8:]} ({len(token)} chars)"


@exercise(
    "1.1", "sign in", ("sign_in",),
    hint="call lab.client('cognito-idp').initiate_auth(ClientId=lab.identity.client_id, "
         "AuthFlow='USER_PASSWORD_AUTH', AuthParameters={'USERNAME': ..., 'PASSWORD': ...}) "
         "and return response['AuthenticationResult'].",
)
def check_sign_in(sign_in, t: Trial) -> None:
    lab = current()
    for tenant in (TENANTS[0], TENANTS[2]):
        user = tenant.users[1]
        with t.case(f"sign in as {user} of {tenant.id}"):
            result = t.call(sign_in, user, lab.password)
            t.expect(isinstance(result, dict) and "IdToken" in result,
                     "Cognito's AuthenticationResult: a dict with IdToken, AccessToken, ...",
                     result, hint="return response['AuthenticationResult'], not the response.")
            try:
                claims = verify_id_token(lab.identity, result["IdToken"])
            except jwt.PyJWTError as error:
                t.expect(False, "a genuine ID token of the lab's user pool",
                         f"a token that does not verify ({error})")
            t.expect(claims.get("custom:tenant_id") == tenant.id,
                     f"an ID token of {tenant.id}", claims.get("custom:tenant_id"),
                     hint="sign in with the user name you were given, not a fixed one.")
    with t.case("a wrong password"):
        t.rejects(sign_in, TENANTS[0].users[1], "not-the-password", accept=(Exception,),
                  hint="let Cognito's NotAuthorizedException propagate: returning None or {} "
                       "turns a failed sign-in into a confusing error later.")
    with t.case("a user that does not exist"):
        t.rejects(sign_in, "mallory@nowhere.example.com", lab.password, accept=(Exception,),
                  hint="let Cognito's error propagate; do not return a default.")


@exercise(
    "1.2", "verify a token", ("verify_token",),
    hint="key = jwks.get_signing_key_from_jwt(token).key; then jwt.decode(token, key, "
         "algorithms=['RS256'], audience=lab.identity.client_id, issuer=lab.identity.issuer, "
         "options={'require': ['exp', 'iat', 'token_use']}) and check token_use == 'id'.",
)
def check_verify_token(verify_token, t: Trial) -> None:
    lab = current()
    for tenant in TENANTS:
        user = tenant.users[0]
        with t.case(f"a genuine ID token of {user}"):
            claims = t.call(verify_token, lab.id_token(user),
                            hint="a genuine token must pass: is the JWKS URL "
                                 "lab.identity.jwks_url, and the issuer lab.identity.issuer?")
            t.expect(isinstance(claims, dict) and claims.get("custom:tenant_id") == tenant.id,
                     f"the token's claims: a dict with custom:tenant_id = {tenant.id!r}", claims,
                     hint="return the dict that jwt.decode returns.")
    forged, skipped = forgeries(lab.id_token(ALICE), lab.access_token(ALICE), "tenant-b",
                                lab.settings.embedded)
    for forgery in forged:
        with t.case(forgery.name):
            t.rejects(verify_token, forgery.token, accept=(jwt.PyJWTError,), hint=forgery.hint,
                      sent=preview(forgery.token))
    for name in skipped:
        t.skip(name, "they need the embedded emulator's signing key")


@exercise(
    "1.3", "tenant context from claims", ("tenant_context",),
    hint="return TenantContext(tenant_id=claims['custom:tenant_id'], "
         "tier=claims['custom:tenant_tier'], user=claims['cognito:username']); raise when a "
         "claim is missing or empty.",
)
def check_tenant_context(tenant_context, t: Trial) -> None:
    lab = current()
    for tenant in TENANTS:
        user = tenant.users[1]
        claims = verify_id_token(lab.identity, lab.id_token(user))
        with t.case(f"the verified claims of {user}"):
            ctx = t.call(tenant_context, dict(claims))
            want = TenantContext(tenant.id, tenant.tier, user)
            t.expect(isinstance(ctx, TenantContext), "a TenantContext", type(ctx).__name__,
                     hint="build it with the TenantContext class imported at the top.")
            t.expect(ctx == want, repr(want), ctx)
    claims = verify_id_token(lab.identity, lab.id_token(ALICE))
    hostile = {
        "claims without custom:tenant_id": {k: v for k, v in claims.items()
                                            if k != "custom:tenant_id"},
        "claims with an empty custom:tenant_id": {**claims, "custom:tenant_id": ""},
        "claims without custom:tenant_tier": {k: v for k, v in claims.items()
                                              if k != "custom:tenant_tier"},
    }
    for name, bad in hostile.items():
        with t.case(name):
            t.rejects(tenant_context, bad, accept=(Exception,), sent=short(bad, 100),
                      hint="no tenant claim means no tenant: raise (KeyError or your own "
                           "error) instead of falling back to a default tenant or None.")


class Reply:
    """An HTTP answer of the order service, with its JSON body (or {} if it sent none)."""

    def __init__(self, response: requests.Response) -> None:
        self.status = response.status_code
        try:
            body = response.json()
        except ValueError:
            body = {"text": response.text[:120]}
        self.body = body if isinstance(body, dict) else {"json": body}

    def __str__(self) -> str:
        return f"{self.status} {short(self.body)}"


def _http(service_url: str, method: str, path: str, t: Trial, **kwargs: Any) -> Reply:
    try:
        reply = Reply(requests.request(method, service_url + path, timeout=t.timeout, **kwargs))
    except requests.Timeout:
        t.expect(False, "an answer from the order service",
                 f"no answer within {t.timeout:g} s: does your function hang?")
    if reply.status == 501:
        raise NotStarted(reply.body.get("detail", ""))
    return reply


@exercise(
    "1.4", "tenant middleware for the order service", ("tenant_from_request",),
    hint="take the Authorization header only: it must be 'Bearer <token>'; verify the token with "
         "verify_token and build the context with tenant_context. Ignore body, query and other "
         "headers.",
)
def check_tenant_middleware(tenant_from_request, t: Trial) -> None:
    lab = current()
    orders = fresh_table(lab, "check-orders")
    with serve(create_order_service(orders.table, tenant_from_request)) as service:
        url = service.url
        for tenant in TENANTS:
            user = tenant.users[0]
            with t.case(f"POST /orders as {user}"):
                response = _http(url, "POST", "/orders", t, json={"items": []},
                                 headers={"Authorization": f"Bearer {lab.id_token(user)}"})
                t.expect(response.status == 201 and response.body.get("tenant_id") == tenant.id,
                         f"201 with tenant_id {tenant.id!r}", str(response))
        alice = {"Authorization": f"Bearer {lab.id_token(ALICE)}"}
        lures = [
            ("a tenant-a token with tenant_id 'tenant-b' in the JSON body", "POST", "/orders",
             {"json": {"tenant_id": "tenant-b", "items": []}, "headers": alice}),
            ("a tenant-a token with ?tenant_id=tenant-b in the query", "GET",
             "/orders?tenant_id=tenant-b", {"headers": alice}),
            ("a tenant-a token with an X-Tenant-Id: tenant-b header", "GET", "/orders",
             {"headers": {**alice, "X-Tenant-Id": "tenant-b"}}),
        ]
        for name, method, path, kwargs in lures:
            with t.case(name):
                response = _http(url, method, path, t, **kwargs)
                t.expect(response.status < 300 and response.body.get("tenant_id") == "tenant-a",
                         "the request served as tenant-a", str(response),
                         hint="tenant context comes from the verified token and nothing else.")
        forged, _ = forgeries(lab.id_token(ALICE), lab.access_token(ALICE), "tenant-b",
                              lab.settings.embedded)
        refused = [("no Authorization header", {}),
                   ("Authorization: Basic with a user and password",
                    {"Authorization": "Basic YWxpY2U6TGFiLVBhc3N3MHJkIQ=="}),
                   ("a bare token without the Bearer scheme",
                    {"Authorization": lab.id_token(ALICE)})]
        refused += [(f"Bearer with {f.name}", {"Authorization": f"Bearer {f.token}"})
                    for f in forged if f.token and not f.token.startswith("Bearer")]
        for name, headers in refused:
            with t.case(name):
                response = _http(url, "GET", "/orders", t, headers=headers)
                t.expect(response.status == 401, "401 Unauthorized", str(response),
                         hint="raise when the header is missing, is not 'Bearer <token>', or "
                              "the token does not verify; the service turns that into 401.")


@exercise(
    "1.5", "partition orders by tenant", ("save_order", "list_orders"),
    hint="save with Item={**order, 'tenant_id': ctx.tenant_id, 'pk': f'TENANT#{ctx.tenant_id}', "
         "'sk': f\"ORDER#{order['order_id']}\"}; list with "
         "table.query(KeyConditionExpression=Key('pk').eq(f'TENANT#{ctx.tenant_id}')).",
)
def check_partitioning(save_order, list_orders, t: Trial) -> None:
    lab = current()
    orders = fresh_table(lab, "check-orders")
    a, b = TenantContext("tenant-a", "basic", "alice"), TenantContext("tenant-b", "advanced", "bob")
    lookalike = TenantContext("tenant-aa", "basic", "eve")  # shares a prefix with tenant-a
    plan = [(a, "o-1"), (a, "o-2"), (a, "o-3"), (b, "o-1"), (b, "o-4"), (lookalike, "o-5")]
    for ctx, order_id in plan:
        with t.case(f"save order {order_id} as {ctx.tenant_id}"):
            t.call(save_order, orders.table, ctx, {"order_id": order_id, "items": []})
    with t.case("an order whose body claims tenant_id 'tenant-b', saved as tenant-a"):
        t.call(save_order, orders.table, a, {"order_id": "o-6", "tenant_id": "tenant-b"})
    keys = {(item["pk"], item["sk"]): item for item in raw_items(lab, orders.table.name)}
    with t.case("the keys follow TENANT#<tenant> / ORDER#<order>"):
        for ctx, order_id in plan:
            t.expect(("TENANT#" + ctx.tenant_id, "ORDER#" + order_id) in keys,
                     f"an item with pk TENANT#{ctx.tenant_id} and sk ORDER#{order_id}",
                     f"keys {sorted(keys)[:4]}...",
                     hint="the partition key carries the tenant, the sort key the order.")
    with t.case("the context wins over a tenant_id inside the order"):
        item = keys.get(("TENANT#tenant-a", "ORDER#o-6"), {})
        t.expect(bool(item) and item.get("tenant_id", "tenant-a") == "tenant-a",
                 "o-6 stored under TENANT#tenant-a with tenant_id tenant-a", short(item),
                 hint="set the tenant from ctx after copying the order, never before.")
    expected = {"tenant-a": {"o-1", "o-2", "o-3", "o-6"}, "tenant-b": {"o-1", "o-4"},
                "tenant-aa": {"o-5"}}
    for ctx in (a, b, lookalike):
        with t.case(f"list_orders as {ctx.tenant_id} sees exactly its own orders"):
            before = len(orders.calls)
            listed = t.call(list_orders, orders.table, ctx)
            used = orders.calls[before:]
            t.expect("Scan" not in used, "a Query on the tenant's partition", f"calls {used}",
                     hint="a Scan reads every tenant's items and filters afterwards; in lab 2 "
                          "the account will deny it. Query the partition key instead.")
            ids = {o.get("order_id") for o in listed or [] if isinstance(o, dict)}
            t.expect(ids == expected[ctx.tenant_id], f"order ids {sorted(expected[ctx.tenant_id])}",
                     f"order ids {sorted(map(str, ids))}",
                     hint="use Key('pk').eq(...), not begins_with: 'TENANT#tenant-a' is a prefix "
                          "of 'TENANT#tenant-aa'.")


@exercise(
    "1.6", "write sharding for a hot tenant", ("sharded_pk", "query_all_shards"),
    hint="shard = int(hashlib.sha256(order_id.encode()).hexdigest(), 16) % shards; "
         "pk = f'TENANT#{tenant_id}#{shard}'. Read back with one Query per shard "
         "(a ThreadPoolExecutor makes it a parallel fan-out) and concatenate.",
)
def check_sharding(sharded_pk, query_all_shards, t: Trial) -> None:
    lab = current()
    shards = 8
    orders = fresh_table(lab, "check-sharded-orders")
    population = {"tenant-c": 160, "tenant-a": 24, "tenant-cc": 8}
    written: dict[str, set[str]] = {}
    spread: Counter[str] = Counter()
    for tenant_id, count in population.items():
        with t.case(f"sharded_pk for {count} orders of {tenant_id}"):
            ids = {f"{tenant_id}-order-{n:03d}" for n in range(count)}
            written[tenant_id] = ids
            with orders.table.batch_writer() as batch:
                for order_id in sorted(ids):
                    pk = t.call(sharded_pk, tenant_id, order_id, shards)
                    prefix, _, suffix = str(pk).rpartition("#")
                    t.expect(prefix == f"TENANT#{tenant_id}" and suffix.isdigit()
                             and 0 <= int(suffix) < shards,
                             f"TENANT#{tenant_id}#<0..{shards - 1}>", pk, sent=order_id)
                    t.expect(t.call(sharded_pk, tenant_id, order_id, shards) == pk,
                             "the same key every time for the same order", "a different key",
                             hint="pick the shard from a hash of the order id, not at random "
                                  "(and not with hash(), which changes between processes).")
                    if tenant_id == "tenant-c":
                        spread[pk] += 1
                    batch.put_item(Item={"pk": pk, "sk": f"ORDER#{order_id}",
                                         "order_id": order_id, "tenant_id": tenant_id})
    with t.case(f"160 orders of tenant-c spread over all {shards} shards"):
        mean = 160 / shards
        t.expect(len(spread) == shards and max(spread.values()) <= 2 * mean,
                 f"every shard used, none with more than {2 * mean:.0f} orders",
                 dict(sorted(spread.items())),
                 hint="a good hash spreads evenly; sha256 of the order id does.")
    for tenant_id in population:
        with t.case(f"query_all_shards reads back every order of {tenant_id}"):
            before = len(orders.calls)
            found = t.call(query_all_shards, orders.table, tenant_id, shards)
            used = orders.calls[before:]
            t.expect("Scan" not in used, "Queries, one per shard", f"calls {Counter(used)}",
                     hint="query each shard's partition key; a Scan reads every tenant.")
            t.expect(used.count("Query") >= shards, f"at least {shards} Queries",
                     f"{used.count('Query')} Queries")
            ids = {o.get("order_id") for o in found or [] if isinstance(o, dict)}
            t.expect(ids == written[tenant_id], f"{len(written[tenant_id])} orders of {tenant_id}",
                     f"{len(ids)} orders, {len(ids - written[tenant_id])} of them not "
                     f"{tenant_id}'s", hint="query TENANT#<tenant>#<n> for n in range(shards), "
                                            "with Key('pk').eq(...), and follow pagination.")
