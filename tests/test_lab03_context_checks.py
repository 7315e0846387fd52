"""Lab 3's checks (3.1 to 3.3) pass on the solution and catch each classic mistake.

The solution functions come from solutions/03-service-to-service.ipynb itself. Each mutant is
one realistic wrong answer: a context library with a convenience door ("internal calls send
x-tenant-id"), a hop that forwards something other than the caller's token or hides a failed
hop, a consumer that trusts what a message says, skips what it cannot read, or writes with the
service's broad credentials. The table names the case that must catch each one.
"""

from __future__ import annotations

import base64
import json
import re
import threading
import uuid
from dataclasses import asdict

import flask
import jwt
import pytest
import requests
from botocore.exceptions import ClientError
from mutants import assert_accepted, assert_caught

from checks import run
from checks.notebook_code import namespace, solution_path
from environment.app.context import TenantContext
from environment.app.keys import fulfilment_sk, tenant_pk
from environment.app.store import PooledStore

OURS = ("3.1", "3.2", "3.3")


@pytest.fixture(scope="module")
def solution(lab):
    return namespace(solution_path(3))


@pytest.mark.parametrize("exercise", OURS)
def test_the_solution_passes(solution, exercise):
    needs = {"3.1": ["tenant_from_request"], "3.2": ["fulfil"],
             "3.3": ["publish_order_placed", "handle_order_placed"]}[exercise]
    outcome = run(exercise, *[solution[name] for name in needs])
    assert outcome.passed, outcome.message
    assert not outcome.skipped


# --- 3.1 one context library ---------------------------------------------------------------------


def library_mutants(s):
    right, lab = s["tenant_from_request"], s["lab"]
    claims_context = s["tenant_context_from_claims"]

    def internal_header(request):  # "only the order service calls us, and it says who"
        if not request.headers.get("Authorization") and request.headers.get("x-tenant-id"):
            return TenantContext(request.headers["x-tenant-id"], "basic", "order-service")
        return right(request)

    def header_wins(request):
        ctx = right(request)
        return TenantContext(request.headers.get("X-Tenant-Id", ctx.tenant_id), ctx.tier, ctx.user)

    def default_tenant(request):
        if not request.headers.get("Authorization"):
            return TenantContext("tenant-a", "basic", "anonymous")
        return right(request)

    def tier_header(request):
        ctx = right(request)
        return TenantContext(ctx.tenant_id, request.headers.get("X-Tenant-Tier", ctx.tier),
                             request.headers.get("X-User", ctx.user))

    def drifted_copy(request):  # the product service's copy still reads an old tier claim
        ctx = right(request)
        return TenantContext(ctx.tenant_id, "basic", ctx.user) if request.path.startswith(
            "/products") else ctx

    def token_of(request):
        scheme, _, token = (request.headers.get("Authorization") or "").partition(" ")
        if scheme.lower() != "bearer" or not token:
            raise PermissionError("no bearer token")
        return token.strip()

    def signature_only(request):  # right key, but any pool's token and any audience
        token = token_of(request)
        key = jwt.PyJWKClient(lab.identity.jwks_url).get_signing_key_from_jwt(token)
        return claims_context(jwt.decode(token, key.key, algorithms=["RS256"],
                                         options={"verify_aud": False}))

    def unverified(request):
        return claims_context(jwt.decode(token_of(request), options={"verify_signature": False}))

    def no_expiry(request):
        token = token_of(request)
        key = jwt.PyJWKClient(lab.identity.jwks_url).get_signing_key_from_jwt(token)
        return claims_context(jwt.decode(token, key.key, algorithms=["RS256"],
                                         audience=lab.identity.client_id,
                                         issuer=lab.identity.issuer,
                                         options={"verify_exp": False}))

    def any_scheme(request):
        header = request.headers.get("Authorization") or ""
        return claims_context(s["verify_id_token"](lab.identity, header.split(" ")[-1]))

    def query_token(request):
        token = request.args.get("access_token")
        if token and not request.headers.get("Authorization"):
            return claims_context(s["verify_id_token"](lab.identity, token))
        return right(request)

    def fulfilment_trusts_header(request):
        if request.path.startswith("/fulfilments") and request.headers.get("x-tenant-id"):
            return TenantContext(request.headers["x-tenant-id"], "basic", "internal")
        return right(request)

    def reads_trust_the_header(request):  # "a GET changes nothing, so the header will do"
        if request.method == "GET" and request.headers.get("x-tenant-id"):
            return TenantContext(request.headers["x-tenant-id"], "basic", "reader")
        return right(request)

    def load_balancer_header(request):  # ALB's x-amzn-oidc-data, taken when it is there
        forwarded = request.headers.get("x-amzn-oidc-data")
        if forwarded:
            return claims_context(jwt.decode(forwarded, options={"verify_signature": False}))
        return right(request)

    def edge_services_trust_the_header(request):  # "the gateway sets it for order/product"
        if not request.headers.get("Authorization") and request.headers.get("x-tenant-id") \
                and not request.path.startswith("/fulfilments"):
            return TenantContext(request.headers["x-tenant-id"], "basic", "gateway")
        return right(request)

    def verifies_only_in_fulfilment(request):  # the edge "only" checks issuer and audience
        if request.path.startswith("/fulfilments"):
            return right(request)
        claims = jwt.decode(token_of(request), options={"verify_signature": False})
        if claims.get("iss") != lab.identity.issuer or claims.get("aud") != \
                lab.identity.client_id or claims.get("token_use") != "id":
            raise PermissionError("not ours")
        return claims_context(claims)

    def act_as_header(request):
        ctx = right(request)
        tenant = request.headers.get("X-Act-As-Tenant") or request.headers.get("Tenant-Id")
        return TenantContext(tenant, ctx.tier, ctx.user) if tenant else ctx

    def forwarded_user(request):
        ctx = right(request)
        return TenantContext(ctx.tenant_id, ctx.tier,
                             request.headers.get("X-Forwarded-User") or ctx.user)

    def item_routes_trust_the_header(request):
        if request.view_args and request.headers.get("x-tenant-id"):
            return TenantContext(request.headers["x-tenant-id"], "basic", "internal")
        return right(request)

    def browsers_trust_the_header(request):  # a door for callers that do not look like a test
        if "python-requests" not in request.headers.get("User-Agent", "") and \
                request.headers.get("x-tenant-id"):
            return TenantContext(request.headers["x-tenant-id"], "basic", "internal")
        return right(request)

    def cookie_fallback(request):
        if not request.headers.get("Authorization") and request.cookies.get("id_token"):
            return claims_context(s["verify_id_token"](lab.identity, request.cookies["id_token"]))
        return right(request)

    def hour_leeway(request):
        token = token_of(request)
        key = jwt.PyJWKClient(lab.identity.jwks_url).get_signing_key_from_jwt(token)
        claims = jwt.decode(token, key.key, algorithms=["RS256"], leeway=3600,
                            audience=lab.identity.client_id, issuer=lab.identity.issuer,
                            options={"require": ["exp", "iat", "iss", "aud", "token_use"]})
        if claims["token_use"] != "id":
            raise PermissionError("not an ID token")
        return claims_context(claims)

    def keys_from_jku(request):
        token = token_of(request)
        jku = jwt.get_unverified_header(token).get("jku") or lab.identity.jwks_url
        key = jwt.PyJWKClient(jku).get_signing_key_from_jwt(token)
        claims = jwt.decode(token, key.key, algorithms=["RS256"], audience=lab.identity.client_id,
                            issuer=lab.identity.issuer,
                            options={"require": ["exp", "iat", "iss", "aud", "token_use"]})
        if claims["token_use"] != "id":
            raise PermissionError("not an ID token")
        return claims_context(claims)

    cache = {}

    def cached_per_token(request):
        token = token_of(request)
        if token not in cache:
            cache[token] = right(request)
        return cache[token]

    every_route = "every spelling, on every route"
    return [
        ("3.1", "adversary: order and product trust x-tenant-id",
         (edge_services_trust_the_header,), "other identity headers (no token)"),
        ("3.1", "adversary: verifies signatures in fulfilment only",
         (verifies_only_in_fulfilment,), "the three services with"),
        ("3.1", "adversary: X-Act-As-Tenant or Tenant-Id overrides the token", (act_as_header,),
         every_route),
        ("3.1", "adversary: the user from X-Forwarded-User", (forwarded_user,), every_route),
        ("3.1", "adversary: item routes trust x-tenant-id", (item_routes_trust_the_header,),
         every_route),
        ("3.1", "adversary: trusts x-tenant-id unless the caller is python-requests",
         (browsers_trust_the_header,), every_route),
        ("3.1", "adversary: falls back to an id_token cookie", (cookie_fallback,), "a cookie"),
        ("3.1", "adversary: a leeway of one hour", (hour_leeway,), "expired 50 minutes ago"),
        ("3.1", "adversary: fetches keys from the token's jku", (keys_from_jku,), "'jku' header"),
        ("3.1", "adversary: caches the context per token, past its exp", (cached_per_token,),
         "three days later"),
        ("3.1", "adversary: GET requests trust x-tenant-id", (reads_trust_the_header,),
         every_route),
        ("3.1", "adversary: trusts the load balancer's x-amzn-oidc-data",
         (load_balancer_header,), "other identity headers (no token)"),
        ("3.1", "trusts x-tenant-id when there is no token", (internal_header,),
         "only x-tenant-id"),
        ("3.1", "lets X-Tenant-Id win over the token", (header_wins,), "X-Tenant-Id: tenant-b"),
        ("3.1", "a default tenant for a request without a token", (default_tenant,),
         "no Authorization header at all"),
        ("3.1", "tier and user from headers", (tier_header,), "X-Tenant-Tier: premium"),
        ("3.1", "a drifted copy in the product service", (drifted_copy,),
         "agree on bella@tenant-b"),
        ("3.1", "checks the signature but neither issuer nor audience", (signature_only,),
         "another user pool"),
        ("3.1", "decodes without verifying", (unverified,), "another user pool"),
        ("3.1", "switches the expiry check off", (no_expiry,), "expired 50 minutes ago"),
        ("3.1", "takes the last word of the header, any scheme", (any_scheme,),
         "scheme 'Token', in the query string"),
        ("3.1", "accepts ?access_token= without a header", (query_token,),
         "scheme 'Token', in the query string"),
        ("3.1", "fulfilment trusts the order service's x-tenant-id", (fulfilment_trusts_header,),
         "X-Tenant-Id: tenant-b"),
    ]


def library_benign(s):
    lab = s["lab"]
    from environment.app.auth import tenant_resolver

    def value_error(request):
        header = request.headers.get("Authorization") or ""
        if not header.lower().startswith("bearer "):
            raise ValueError("bearer token required")
        return s["tenant_context_from_claims"](s["verify_id_token"](lab.identity, header[7:]))

    def not_implemented_scheme(request):  # a refusal worded as "not implemented" (501)
        scheme, _, _ = (request.headers.get("Authorization") or "").partition(" ")
        if scheme and scheme.lower() != "bearer":
            raise NotImplementedError(f"auth scheme {scheme!r} is not supported")
        return s["tenant_from_request"](request)

    return [("3.1", s["tenant_from_request"]), ("3.1", tenant_resolver(lab.identity)),
            ("3.1", value_error), ("3.1", not_implemented_scheme)]


# --- 3.2 context over HTTP -----------------------------------------------------------------------


def hop_mutants(s):
    right, lab = s["fulfil"], s["lab"]

    def post(url, order, headers):
        response = requests.post(f"{url}/fulfilments", json={"order_id": order["order_id"]},
                                 headers=headers, timeout=5)
        response.raise_for_status()
        return response.json()

    def tenant_header(request, order, url):
        return post(url, order, {"x-tenant-id": order["tenant_id"]})

    def own_token(request, order, url):  # signs in as the tenant's first user
        tenant = next(t for t in lab.tenants if t.id == order["tenant_id"])
        return post(url, order, {"Authorization": f"Bearer {lab.id_token(tenant.users[0])}"})

    remembered = {}

    def first_caller(request, order, url):
        remembered.setdefault("auth", request.headers["Authorization"])
        return post(url, order, {"Authorization": remembered["auth"]})

    def ignores_status(request, order, url):
        return requests.post(f"{url}/fulfilments", json={"order_id": order["order_id"]},
                             headers={"Authorization": request.headers["Authorization"]},
                             timeout=5).json()

    def swallows(request, order, url):
        try:
            return right(request, order, url)
        except requests.RequestException:
            return {"order_id": order["order_id"], "status": "pending"}

    def rebuilt(request, order, url):
        token = request.headers["Authorization"].removeprefix("Bearer ")
        return post(url, order, {"Authorization": f"Bearer {token}"})

    def hard_coded(request, order, url):
        return right(request, order, "http://127.0.0.1:9")

    def response_object(request, order, url):
        return requests.post(f"{url}/fulfilments", json={"order_id": order["order_id"]},
                             headers={"Authorization": request.headers["Authorization"]},
                             timeout=5)

    def lists(request, order, url):
        response = requests.get(f"{url}/fulfilments",
                                headers={"Authorization": request.headers["Authorization"]},
                                timeout=5)
        response.raise_for_status()
        return response.json()

    def only_server_errors(request, order, url):
        response = requests.post(f"{url}/fulfilments", json={"order_id": order["order_id"]},
                                 headers={"Authorization": request.headers["Authorization"]},
                                 timeout=5)
        if response.status_code >= 500:
            raise RuntimeError(response.text)
        return response.json()

    def only_401(request, order, url):
        response = requests.post(f"{url}/fulfilments", json={"order_id": order["order_id"]},
                                 headers={"Authorization": request.headers["Authorization"]},
                                 timeout=5)
        if response.status_code == 401:
            raise PermissionError(response.text)
        return response.json()

    def made_up_answer(request, order, url):
        post(url, order, {"Authorization": request.headers["Authorization"]})
        return {"order_id": order["order_id"], "status": "shipped"}

    def retries_as_the_tenant(request, order, url):  # "the token expired in flight"
        response = requests.post(f"{url}/fulfilments", json={"order_id": order["order_id"]},
                                 headers={"Authorization": request.headers["Authorization"]},
                                 timeout=5)
        if response.status_code in (401, 403):
            tenant = next(t for t in lab.tenants if t.id == order["tenant_id"])
            return post(url, order, {"Authorization": f"Bearer {lab.id_token(tenant.users[0])}"})
        response.raise_for_status()
        return response.json()

    def unreachable_is_shipped(request, order, url):
        try:
            return right(request, order, url)
        except requests.ConnectionError:
            return {"order_id": order["order_id"], "status": "shipped"}

    def retries_forever(request, order, url):
        while True:
            response = requests.post(f"{url}/fulfilments", json={"order_id": order["order_id"]},
                                     headers={"Authorization": request.headers["Authorization"]},
                                     timeout=5)
            if response.ok:
                return response.json()

    shared = requests.Session()

    def shared_session(request, order, url):
        shared.headers["Authorization"] = request.headers["Authorization"]
        threading.Event().wait(0.05)  # work between setting the header and sending it
        response = shared.post(f"{url}/fulfilments", json={"order_id": order["order_id"]},
                               timeout=5)
        response.raise_for_status()
        return response.json()

    def adds_the_tenant(request, order, url):
        return post(url, order, {"Authorization": request.headers["Authorization"],
                                 "x-tenant-id": order["tenant_id"]})

    def every_header(request, order, url):
        return post(url, order, {k: v for k, v in request.headers.items() if k.lower() not in (
            "host", "content-length", "content-type")})

    def error_key(request, order, url):
        body = requests.post(f"{url}/fulfilments", json={"order_id": order["order_id"]},
                             headers={"Authorization": request.headers["Authorization"]},
                             timeout=5).json()
        if "error" in body:
            raise RuntimeError(body["error"])
        return body

    def not_found_is_shipped(request, order, url):
        response = requests.post(f"{url}/fulfilments", json={"order_id": order["order_id"]},
                                 headers={"Authorization": request.headers["Authorization"]},
                                 timeout=5)
        if response.status_code in (404, 409, 429):
            return {"order_id": order["order_id"], "status": "shipped"}
        response.raise_for_status()
        return response.json()

    first = "as arthur@tenant-a"
    return [
        ("3.2", "adversary: retries a 401 as the tenant's first user", (retries_as_the_tenant,),
         "answers 401"),
        ("3.2", "adversary: an unreachable fulfilment is reported as shipped",
         (unreachable_is_shipped,), "connection refused"),
        ("3.2", "adversary: retries until fulfilment says yes", (retries_forever,),
         "answers 401"),
        ("3.2", "adversary: the token on a shared Session", (shared_session,),
         "at the same time"),
        ("3.2", "adversary: forwards x-tenant-id beside the token", (adds_the_tenant,), first),
        ("3.2", "adversary: forwards every incoming header", (every_header,),
         "also sends tenant headers"),
        ("3.2", "adversary: judges by an 'error' key in the body", (error_key,), "answers 403"),
        ("3.2", "adversary: 404, 409 and 429 reported as shipped", (not_found_is_shipped,),
         "answers 404"),
        ("3.2", "adversary: answers for fulfilment", (made_up_answer,), first),
        ("3.2", "sends x-tenant-id instead of the token", (tenant_header,), first),
        ("3.2", "signs in as the tenant's first user", (own_token,), first),
        ("3.2", "remembers the first caller's header", (first_caller,), "as bob@tenant-b"),
        ("3.2", "ignores fulfilment's status", (ignores_status,), "answers 401"),
        ("3.2", "swallows a failed hop", (swallows,), "answers 401"),
        ("3.2", "rebuilds the header with removeprefix('Bearer ')", (rebuilt,), "lower case"),
        ("3.2", "a hard-coded fulfilment URL", (hard_coded,), first),
        ("3.2", "returns the Response object", (response_object,), first),
        ("3.2", "GET instead of POST", (lists,), first),
        ("3.2", "raises only on 5xx", (only_server_errors,), "answers 401"),
        ("3.2", "raises only on 401", (only_401,), "answers 403"),
    ]


def hop_benign(s):
    def only_authorization(request, order, url):
        headers = {k: v for k, v in request.headers.items() if k.lower() == "authorization"}
        with requests.Session() as session:
            response = session.post(f"{url}/fulfilments", json={"order_id": order["order_id"]},
                                    headers=headers, timeout=(2, 5))
        if not response.ok:
            raise RuntimeError(f"fulfilment answered {response.status_code}")
        return response.json()

    def from_flask(request, order, url):  # the request being served, as any Flask handler
        response = requests.post(f"{url}/fulfilments", json={"order_id": order["order_id"]},
                                 headers={"Authorization": flask.request.headers[
                                     "Authorization"]}, timeout=5)
        response.raise_for_status()
        return response.json()

    return [("3.2", s["fulfil"]), ("3.2", only_authorization), ("3.2", from_flask)]


# --- 3.3 context in messages ---------------------------------------------------------------------


def envelope_mutants(s):
    publish, handle, lab = s["publish_order_placed"], s["handle_order_placed"], s["lab"]
    kms, events, key, vending = s["kms"], s["events"], s["SIGNING_KEY"], s["vending"]
    canonical, algorithm = s["canonical"], s["SIGNING_ALGORITHM"]

    def sign(message: bytes) -> str:
        raw = kms.sign(KeyId=key, Message=message, MessageType="RAW",
                       SigningAlgorithm=algorithm)["Signature"]
        return base64.b64encode(raw).decode()

    def put(detail, bus=None):
        events.put_events(Entries=[{"EventBusName": bus or s["ORDER_EVENTS_BUS"],
                                    "Source": s["SOURCE"], "DetailType": s["DETAIL_TYPE"],
                                    "Detail": json.dumps(detail)}])

    def no_context(ctx, order):
        put({"order": order, "tenant": ctx.tenant_id,
             "signature": sign(canonical({}, order))})

    def signs_its_own_json(ctx, order):
        envelope = {"context": asdict(ctx), "order": order}
        put({**envelope, "signature": sign(json.dumps(envelope).encode())})

    def default_bus(ctx, order):
        envelope = {"context": asdict(ctx), "order": order}
        put({**envelope, "signature": sign(canonical(envelope["context"], order))}, "default")

    def read(body):
        detail = json.loads(body)["detail"]
        return detail, detail["context"], detail["order"]

    def verified(detail, context, order, key_id=key):
        return kms.verify(KeyId=key_id, Message=canonical(context, order), MessageType="RAW",
                          Signature=base64.b64decode(detail["signature"]),
                          SigningAlgorithm=algorithm)["SignatureValid"]

    def record(orders_table, ctx, order, credentials=None, sort_key=None):
        table = orders_table(credentials or vending.credentials(ctx.tenant_id))
        table.put_item(Item={"pk": tenant_pk(ctx.tenant_id),
                             "sk": sort_key or fulfilment_sk(order["order_id"]),
                             "order_id": order["order_id"], "status": "queued"})
        return ctx

    def trusts(body, orders_table):
        _, context, order = read(body)
        return record(orders_table, TenantContext(**context), order)

    def expects_a_raise(body, orders_table):  # AWS raises on a bad signature; the emulator not
        detail, context, order = read(body)
        verified(detail, context, order)
        return record(orders_table, TenantContext(**context), order)

    def logs_and_goes_on(body, orders_table):
        detail, context, order = read(body)
        try:
            if not verified(detail, context, order):
                raise PermissionError("bad signature")
        except Exception as error:  # noqa: BLE001
            print("warning:", error)
        return record(orders_table, TenantContext(**context), order)

    def skips_poison(body, orders_table):
        try:
            json.loads(body)["detail"]
        except (ValueError, KeyError):
            return None
        return handle(body, orders_table)

    def broad_role(body, orders_table):
        detail, context, order = read(body)
        if not verified(detail, context, order):
            raise PermissionError("bad signature")
        creds = lab.client("sts").assume_role(RoleArn=lab.role_arn("order-service"),
                                              RoleSessionName="consumer")["Credentials"]
        return record(orders_table, TenantContext(**context), order, credentials=creds)

    cached = {}

    def one_tenants_credentials(body, orders_table):
        detail, context, order = read(body)
        if not verified(detail, context, order):
            raise PermissionError("bad signature")
        creds = cached.setdefault("creds", vending.credentials(context["tenant_id"]))
        return record(orders_table, TenantContext(**context), order, credentials=creds)

    def default_tier(body, orders_table):
        ctx = handle(body, orders_table)
        return TenantContext(ctx.tenant_id, "basic", ctx.user)

    def random_key(body, orders_table):
        detail, context, order = read(body)
        if not verified(detail, context, order):
            raise PermissionError("bad signature")
        return record(orders_table, TenantContext(**context), order,
                      sort_key=f"FULFILMENT#{uuid.uuid4().hex}")

    def message_names_key(body, orders_table):
        detail, context, order = read(body)
        key_id = f"alias/{detail['key']}" if detail.get("key") else key
        if not verified(detail, context, order, key_id):
            raise PermissionError("bad signature")
        return record(orders_table, TenantContext(**context), order)

    def refuses_duplicates(body, orders_table):
        detail, context, order = read(body)
        if not verified(detail, context, order):
            raise PermissionError("bad signature")
        table = orders_table(vending.credentials(context["tenant_id"]))
        table.put_item(Item={"pk": tenant_pk(context["tenant_id"]),
                             "sk": fulfilment_sk(order["order_id"])},
                       ConditionExpression="attribute_not_exists(pk)")
        return TenantContext(**context)

    def signature_optional(body, orders_table):
        detail, context, order = read(body)
        if detail.get("signature") and not verified(detail, context, order):
            raise PermissionError("bad signature")
        return record(orders_table, TenantContext(**context), order)

    def kit_credentials(body, orders_table):
        detail, context, order = read(body)
        if not verified(detail, context, order):
            raise PermissionError("bad signature")
        name = orders_table(vending.credentials(context["tenant_id"])).name
        admin = lab.settings.session().resource("dynamodb").Table(name)
        admin.put_item(Item={"pk": tenant_pk(context["tenant_id"]),
                             "sk": fulfilment_sk(order["order_id"]), "status": "queued"})
        return TenantContext(**context)

    def writes_then_verifies(body, orders_table):
        detail, context, order = read(body)
        ctx = record(orders_table, TenantContext(**context), order)
        if not verified(detail, context, order):
            raise PermissionError("bad signature")
        return ctx

    verified_orders = set()

    def verifies_each_order_once(body, orders_table):
        detail, context, order = read(body)
        if order["order_id"] not in verified_orders:
            if not verified(detail, context, order):
                raise PermissionError("bad signature")
            verified_orders.add(order["order_id"])
        return record(orders_table, TenantContext(**context), order)

    def checked(body):
        detail, context, order = read(body)
        if not verified(detail, context, order):
            raise PermissionError("bad signature")
        return detail, context, order

    def unsigned_tenant_first(body, orders_table):
        detail, context, order = checked(body)
        tenant = detail.get("tenant_id", context["tenant_id"])
        return record(orders_table, TenantContext(tenant, context["tier"], context["user"]),
                      order)

    def tenant_from_the_text(body, orders_table):  # the last "tenant_id" in the raw body
        _, context, order = checked(body)
        tenant = re.findall(r'"tenant_id":\s*"([^"]+)"', body)[-1]
        return record(orders_table, TenantContext(tenant, context["tier"], context["user"]),
                      order)

    def fails_open(body, orders_table):  # "KMS is down: let it through"
        detail, context, order = read(body)
        try:
            if not verified(detail, context, order):
                raise PermissionError("bad signature")
        except ClientError as error:
            print("KMS unavailable, accepting:", error)
        return record(orders_table, TenantContext(**context), order)

    def broad_role_fallback(body, orders_table):
        _, context, order = checked(body)
        try:
            creds = vending.credentials(context["tenant_id"])
        except Exception:  # noqa: BLE001
            creds = lab.client("sts").assume_role(RoleArn=lab.role_arn("order-service"),
                                                  RoleSessionName="consumer")["Credentials"]
        return record(orders_table, TenantContext(**context), order, credentials=creds)

    def swallows_write_errors(body, orders_table):
        _, context, order = checked(body)
        try:
            record(orders_table, TenantContext(**context), order)
        except ClientError as error:
            print("write failed, skipping:", error)
        return TenantContext(**context)

    def claims_first(body, orders_table):  # a "claim" before the slow KMS call
        detail, context, order = read(body)
        key_ = {"pk": tenant_pk(context["tenant_id"]), "sk": fulfilment_sk(order["order_id"])}
        table = orders_table(vending.credentials(context["tenant_id"]))
        table.put_item(Item={**key_, "order_id": order["order_id"], "status": "claimed"})
        if not verified(detail, context, order):
            table.delete_item(Key=key_)
            raise PermissionError("bad signature")
        return record(orders_table, TenantContext(**context), order)

    def admin_event_log(body, orders_table):
        ctx = handle(body, orders_table)
        name = orders_table(vending.credentials(ctx.tenant_id)).name
        admin = lab.settings.session().resource("dynamodb").Table(name)
        admin.put_item(Item={"pk": "EVENTS", "sk": f"EVENT#{uuid.uuid4().hex}",
                             "tenant": ctx.tenant_id})
        return ctx

    def extra_tenant_record(body, orders_table):
        ctx = handle(body, orders_table)
        _, _, order = read(body)
        orders_table(vending.credentials(ctx.tenant_id)).put_item(Item={
            "pk": tenant_pk(ctx.tenant_id), "sk": f"SHIPMENT#{order['order_id']}"})
        return ctx

    def publish_key_id(ctx, order):
        context = asdict(ctx)
        put({"context": context, "order": order, "key_id": key,
             "signature": sign(canonical(context, order))})

    def key_id_of_the_message(body, orders_table):
        detail, context, order = read(body)
        if not verified(detail, context, order, detail.get("key_id", key)):
            raise PermissionError("bad signature")
        return record(orders_table, TenantContext(**context), order)

    done = set()

    def dedupes_by_order_id(body, orders_table):  # "at least once: ship each order once"
        _, context, order = checked(body)
        if order["order_id"] not in done:
            record(orders_table, TenantContext(**context), order)
            done.add(order["order_id"])
        return TenantContext(**context)

    def sniffs_the_check(body, orders_table):  # strict only when the check seems to be calling
        if type(orders_table).__name__ == "Tables":
            return handle(body, orders_table)
        return trusts(body, orders_table)

    copies = "unsigned tenant copies"
    return [
        ("3.3", "adversary: strict only under the check's own table class",
         (publish, sniffs_the_check), "tenant was edited"),
        ("3.3", "adversary: an unsigned detail.tenant_id wins", (publish, unsigned_tenant_first),
         copies),
        ("3.3", "adversary: the tenant found in the raw text", (publish, tenant_from_the_text),
         copies),
        ("3.3", "adversary: a KMS error lets the message through", (publish, fails_open),
         "kms.verify raises"),
        ("3.3", "adversary: the broad role when vending refuses", (publish, broad_role_fallback),
         "each write ran under its tenant's session"),
        ("3.3", "adversary: swallows write errors", (publish, swallows_write_errors),
         "cannot be written"),
        ("3.3", "adversary: claims the record before verifying", (publish, claims_first),
         "changes nothing in the table"),
        ("3.3", "adversary: an event log with admin credentials", (publish, admin_event_log),
         "each write ran under its tenant's session"),
        ("3.3", "adversary: a second record per order", (publish, extra_tenant_record),
         "one record per order"),
        ("3.3", "adversary: verifies with the key id the message names",
         (publish_key_id, key_id_of_the_message), "signed with another KMS key"),
        ("3.3", "adversary: dedupes by order id across tenants", (publish, dedupes_by_order_id),
         "one record per order"),
        ("3.3", "adversary: writes, then verifies", (publish, writes_then_verifies),
         "tenant was edited"),
        ("3.3", "adversary: verifies each order id once", (publish, verifies_each_order_once),
         "tenant was edited"),
        ("3.3", "the producer leaves the context out", (no_context, handle),
         "carries the tenant context"),
        ("3.3", "the producer signs its own json.dumps", (signs_its_own_json, handle),
         "signature verifies"),
        ("3.3", "the producer uses the default bus", (default_bus, handle),
         "on the order-events bus"),
        ("3.3", "the consumer trusts the message", (publish, trusts), "tenant was edited"),
        ("3.3", "the consumer waits for verify to raise", (publish, expects_a_raise),
         "tenant was edited"),
        ("3.3", "the consumer logs a bad signature and goes on", (publish, logs_and_goes_on),
         "tenant was edited"),
        ("3.3", "the consumer skips poison messages", (publish, skips_poison), "not JSON"),
        ("3.3", "the consumer writes with the service's broad role", (publish, broad_role),
         "each write ran under its tenant's session"),
        ("3.3", "the consumer keeps the first tenant's credentials",
         (publish, one_tenants_credentials), "every genuine message is processed"),
        ("3.3", "the consumer restores a default tier", (publish, default_tier),
         "returns the context it restored"),
        ("3.3", "the consumer keys records by a random id", (publish, random_key),
         "one record per order"),
        ("3.3", "the consumer verifies with the key the message names",
         (publish, message_names_key), "signed with another KMS key"),
        ("3.3", "the consumer refuses duplicates", (publish, refuses_duplicates),
         "every genuine message is processed"),
        ("3.3", "the consumer lets an unsigned event through", (publish, signature_optional),
         "without a signature"),
        ("3.3", "the consumer writes with the kit's own credentials", (publish, kit_credentials),
         "each write ran under its tenant's session"),
    ]


def envelope_benign(s):
    publish, handle, vending = s["publish_order_placed"], s["handle_order_placed"], s["vending"]
    kms, key, canonical = s["kms"], s["SIGNING_KEY"], s["canonical"]

    def versioned(ctx, order):  # extra fields in the detail are fine
        context = asdict(ctx)
        raw = kms.sign(KeyId=key, Message=canonical(context, order), MessageType="RAW",
                       SigningAlgorithm=s["SIGNING_ALGORITHM"])["Signature"]
        s["events"].put_events(Entries=[{
            "EventBusName": s["ORDER_EVENTS_BUS"], "Source": s["SOURCE"],
            "DetailType": s["DETAIL_TYPE"], "Detail": json.dumps({
                "version": 1, "context": context, "order": order,
                "signature": base64.b64encode(raw).decode()})}])

    def with_store(body, orders_table):
        detail = json.loads(body)["detail"]
        answer = kms.verify(KeyId=key, Message=canonical(detail["context"], detail["order"]),
                            MessageType="RAW", Signature=base64.b64decode(detail["signature"]),
                            SigningAlgorithm=s["SIGNING_ALGORITHM"])
        if answer["SignatureValid"] is not True:
            raise ValueError("signature")
        ctx = TenantContext(**detail["context"])
        store = PooledStore(lambda c: orders_table(vending.credentials(c.tenant_id)),
                            fulfilment_sk, "order_id")
        store.save(ctx, {"order_id": detail["order"]["order_id"], "status": "queued"})
        return ctx

    def batch(body, orders_table):
        detail = json.loads(body)["detail"]
        answer = kms.verify(KeyId=key, Message=canonical(detail["context"], detail["order"]),
                            MessageType="RAW", Signature=base64.b64decode(detail["signature"]),
                            SigningAlgorithm=s["SIGNING_ALGORITHM"])
        if not answer["SignatureValid"]:
            raise ValueError("signature")
        ctx = TenantContext(**detail["context"])
        with orders_table(vending.credentials(ctx.tenant_id)).batch_writer() as writer:
            writer.put_item(Item={"pk": tenant_pk(ctx.tenant_id), "status": "queued",
                                  "sk": fulfilment_sk(detail["order"]["order_id"])})
        return ctx

    def other_types_not_implemented(body, orders_table):
        event = json.loads(body)
        if event.get("detail-type") != "OrderPlaced":
            raise NotImplementedError(f"no handler for {event.get('detail-type')!r}")
        return handle(body, orders_table)

    return [("3.3", publish, handle), ("3.3", versioned, with_store), ("3.3", publish, batch),
            ("3.3", publish, other_types_not_implemented)]


MUTANTS = {"3.1": library_mutants, "3.2": hop_mutants, "3.3": envelope_mutants}
BENIGN = {"3.1": library_benign, "3.2": hop_benign, "3.3": envelope_benign}


@pytest.mark.parametrize("exercise", sorted(MUTANTS))
def test_every_check_catches_its_classic_mistakes(solution, exercise):
    assert_caught(MUTANTS[exercise](solution))


@pytest.mark.parametrize("exercise", sorted(BENIGN))
def test_correct_answers_written_differently_pass(solution, exercise):
    assert_accepted(BENIGN[exercise](solution))


def test_an_unfinished_consumer_is_not_started_not_a_crash(solution):
    def stub(body, orders_table):
        raise NotImplementedError("exercise 3.3 is not done yet")

    outcome = run("3.3", solution["publish_order_placed"], stub)
    assert outcome.state == "not started", outcome.message


def test_a_hop_or_a_handler_that_hangs_is_reported_not_waited_for(solution):
    import threading

    forever = threading.Event()

    def hanging_hop(request, order, url):
        forever.wait(30)

    def hanging_handler(body, orders_table):
        forever.wait(30)

    try:
        hop = run("3.2", hanging_hop, timeout=2)
        assert hop.failed_case and "did not return" in hop.message, hop.message
        handler = run("3.3", solution["publish_order_placed"], hanging_handler, timeout=2)
        assert handler.failed_case == "every genuine message is processed (deleted), the " \
                                      "duplicate too", handler.message
        assert "did not return within 2 s" in handler.message
    finally:
        forever.set()


def test_the_code_step_is_not_in_the_first_report(solution):
    mutant = [m for m in envelope_mutants(solution) if "skips poison" in m[1]][0][2]
    assert run("3.3", solution["publish_order_placed"], solution["handle_order_placed"]).passed
    first, second = run("3.3", *mutant).message, run("3.3", *mutant).message
    step = "no try/except around json.loads"
    assert step not in first and step in second
