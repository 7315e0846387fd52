"""The ingress router and the mesh fail closed; the throttling maths hold on a simulated clock.

The router forwards only when the route names a deployment that exists and the throttle admits
the request: every other outcome (a refused token, an unknown tenant, a crash, ``None``, a
deployment that does not exist, a throttle that answers nonsense) is answered at the door and
reaches no service. The mesh routes only on both headers and a tier it knows. The throttling
maths are those of lab 4.3's solution, driven on a clock the test moves by hand.
"""

from __future__ import annotations

import math
from decimal import Decimal
from fractions import Fraction

import jwt
import pytest
import requests
from flask import Flask, jsonify
from lab04_solution import solution

from checks.forgery import minted
from environment.app.context import Unauthorized
from environment.app.mesh import Mesh
from environment.app.router import create_router, retry_after
from environment.app.serving import serve


@pytest.fixture(scope="module")
def backend():
    """A stand-in for a deployment's services that counts the requests that reached it."""
    app = Flask("backend")
    hits: list[str] = []

    @app.route("/<path:path>", methods=["GET", "POST"])
    def anything(path: str):
        hits.append(path)
        return jsonify(path=path), 200, {"X-Served-By": "backend"}

    with serve(app) as running:
        yield running.url, hits


def _raises(error: BaseException):
    def route(headers):
        raise error
    return route


ROUTES = [
    ("a refused token (PyJWT)", _raises(jwt.InvalidSignatureError("bad signature")), 401),
    ("no token (Unauthorized)", _raises(Unauthorized("no bearer token")), 401),
    ("a ValueError", _raises(ValueError("not a token")), 401),
    ("an unknown tenant (PermissionError)", _raises(PermissionError("no route")), 403),
    ("a KeyError is a crash, not a decision", _raises(KeyError("Item")), 500),
    ("a LookupError is not a decision either", _raises(LookupError("none")), 500),
    ("a crash", _raises(RuntimeError("boom")), 500),
    ("an exercise not done yet", _raises(NotImplementedError("exercise 4.1 is not done yet")),
     501),
    ("None", lambda headers: None, 502),
    ("a deployment that does not exist", lambda headers: "silo-tenant-x", 502),
    ("the item instead of its name", lambda headers: {"deployment": "pool"}, 502),
    ("an empty name", lambda headers: "", 502),
    ("a str subclass that compares with anything", lambda headers: _Anything("pool"), 502),
]


class _Anything(str):
    def __eq__(self, other: object) -> bool:
        raise RuntimeError("comparing me crashes")

    __hash__ = str.__hash__


@pytest.mark.parametrize(("what", "route", "status"), ROUTES, ids=[r[0] for r in ROUTES])
def test_the_router_never_forwards_what_the_route_did_not_name(backend, what, route, status):
    url, hits = backend
    before = len(hits)
    with serve(create_router(route, {"pool": {"orders": url}})) as router:
        answer = requests.get(f"{router.url}/orders", timeout=5)
    assert answer.status_code == status, answer.text
    assert len(hits) == before, f"{what} was forwarded"


def test_a_named_deployment_gets_the_request_with_its_path_query_and_body(backend):
    url, hits = backend
    with serve(create_router(lambda headers: "pool", {"pool": {"orders": url}})) as router:
        answer = requests.post(f"{router.url}/orders/o-1/fulfil?x=1", json={"a": 1}, timeout=5)
        unknown = requests.get(f"{router.url}/invoices", timeout=5)
    assert answer.status_code == 200 and answer.json() == {"path": "orders/o-1/fulfil"}
    assert answer.headers["X-Served-By"] == "backend" and answer.headers["X-Routed-To"] == "pool"
    assert unknown.status_code == 404 and hits[-1] == "orders/o-1/fulfil"


THROTTLES = [
    ("admits", lambda headers: 0, 200, None),
    ("a wait under a second", lambda headers: 0.2, 429, "1"),
    ("a wait of exactly one second", lambda headers: 1.0, 429, "1"),
    ("a wait just over a second", lambda headers: 1.01, 429, "2"),
    ("True is not a number of seconds", lambda headers: True, 500, None),
    ("None", lambda headers: None, 500, None),
    ("a string", lambda headers: "0.2", 500, None),
    ("NaN", lambda headers: math.nan, 500, None),
    ("an infinite wait", lambda headers: math.inf, 500, None),
    ("a wait too big for a float", lambda headers: 10**400, 500, None),
    ("an exact Fraction", lambda headers: Fraction(1, 5), 429, "1"),
    ("a Decimal", lambda headers: Decimal("2.5"), 429, "3"),
    ("a refused token", _raises(jwt.ExpiredSignatureError("expired")), 401, None),
    ("a crash", _raises(ZeroDivisionError("rate 0")), 500, None),
]


@pytest.mark.parametrize(("what", "throttle", "status", "retry"), THROTTLES,
                         ids=[t[0] for t in THROTTLES])
def test_the_throttle_decides_before_anything_is_forwarded(backend, what, throttle, status,
                                                          retry):
    url, hits = backend
    before = len(hits)
    with serve(create_router(lambda headers: "pool", {"pool": {"orders": url}},
                             throttle)) as router:
        answer = requests.get(f"{router.url}/orders", timeout=5)
    assert answer.status_code == status, answer.text
    assert answer.headers.get("Retry-After") == retry
    assert len(hits) == before + (status == 200)
    if status != 200:  # the router explains itself in JSON, never a bare HTML error page
        assert answer.headers["Content-Type"] == "application/json", answer.text


@pytest.mark.parametrize(("wait", "header"), [(1e-9, "1"), (0.2, "1"), (1.0, "1"),
                                              (1.0000001, "2"), (2.5, "3"), (59.2, "60")])
def test_retry_after_is_whole_seconds_rounded_up_never_zero(wait, header):
    assert retry_after(wait) == header


@pytest.mark.parametrize(("headers", "reason"), [
    ({}, "no headers"),
    ({"x-app-tier": "basic"}, "no tenant"),
    ({"x-app-tenant-id": "tenant-a"}, "no tier"),
    ({"x-app-tier": "gold", "x-app-tenant-id": "tenant-a"}, "an unknown tier"),
    ({"x-app-tier": "Premium", "x-app-tenant-id": "tenant-c"}, "a tier in the wrong case"),
    ({"x-app-tier": "premium", "x-app-tenant-id": "tenant-b"}, "premium without a silo"),
])
def test_the_mesh_routes_only_on_both_headers_and_a_known_tier(backend, headers, reason):
    url, hits = backend
    before = len(hits)
    mesh = Mesh({"pool": url, "silo-tenant-c": url})
    with serve(mesh.app()) as running:
        answer = requests.post(f"{running.url}/fulfilments", headers=headers, timeout=5)
    assert answer.status_code == 400, reason
    assert len(hits) == before and mesh.routed == []


def test_the_mesh_sends_premium_to_the_tenants_silo_and_the_rest_to_the_pool(backend):
    url, _ = backend
    mesh = Mesh({"pool": url, "silo-tenant-c": url})
    with serve(mesh.app()) as running:
        for tier, tenant_id in (("basic", "tenant-a"), ("advanced", "tenant-b"),
                                ("premium", "tenant-c")):
            answer = requests.post(f"{running.url}/fulfilments", timeout=5,
                                   headers={"x-app-tier": tier, "x-app-tenant-id": tenant_id})
            assert answer.status_code == 200
    assert [r.deployment for r in mesh.routed] == ["pool", "pool", "silo-tenant-c"]


# --- the throttling maths of lab 4.3's solution, on a simulated clock ----------------------------


@pytest.fixture(scope="module")
def make_throttle(lab):
    return solution()["make_throttle"]


@pytest.mark.parametrize(("rate", "burst", "per_second", "seconds"), [
    (5, 5, 20, 3), (5, 5, 5, 4), (8, 10, 40, 2), (0.5, 1, 4, 8), (30, 30, 100, 1),
])
def test_a_steady_flood_gets_the_burst_plus_the_rate(lab, make_throttle, rate, burst,
                                                     per_second, seconds):
    """Sending faster than the rate for T seconds admits the burst plus rate x T, within one."""
    token = minted(lab.id_token("alice@tenant-a.example.com"),
                   **{"custom:quota_rate": str(rate), "custom:quota_burst": str(burst)})
    now = [0.0]
    admit = make_throttle(lambda: now[0])
    headers = {"Authorization": f"Bearer {token}"}
    admitted = 0
    arrivals = [k / per_second for k in range(per_second * seconds)]
    for at in arrivals:
        now[0] = at
        admitted += admit(headers) == 0
    assert abs(admitted - min(len(arrivals), burst + rate * arrivals[-1])) <= 1, admitted


def test_a_tenant_below_its_rate_is_never_refused_next_to_a_flood(lab, make_throttle):
    now = [0.0]
    admit = make_throttle(lambda: now[0])
    alice = {"Authorization": f"Bearer {lab.id_token('alice@tenant-a.example.com')}"}
    dave = {"Authorization": f"Bearer {lab.id_token('dave@tenant-d.example.com')}"}
    refused = 0
    for step in range(400):  # 10 s: alice sends 40 a second, dave 4 (under his 5)
        now[0] = step / 40
        admit(alice)
        if step % 10 == 0:
            refused += admit(dave) != 0
    assert refused == 0


def test_the_wait_is_exactly_the_time_to_one_whole_token(lab, make_throttle):
    now = [0.0]
    admit = make_throttle(lambda: now[0])
    alice = {"Authorization": f"Bearer {lab.id_token('alice@tenant-a.example.com')}"}
    assert [admit(alice) == 0 for _ in range(5)] == [True] * 5
    now[0] = 0.125  # 0.625 tokens at 5 per second: 0.075 s to a whole one
    assert admit(alice) == pytest.approx(0.075)
    now[0] = 0.125 + 0.075
    assert admit(alice) == 0


# --- what lab 4 adds to the account ---------------------------------------------------------------


def test_every_tenant_has_one_route_and_its_quota_in_its_tokens(lab):
    from environment.account.routes import route_key

    routes = lab.table("routes")
    for tenant in lab.tenants:
        item = routes.get_item(Key=route_key(tenant.id))["Item"]
        assert item["deployment"] == tenant.deployment_name
        claims = jwt.decode(lab.id_token(tenant.users[0]), options={"verify_signature": False})
        assert (claims["custom:quota_rate"], claims["custom:quota_burst"]) == tuple(
            str(n) for n in tenant.quota)


def test_a_user_cannot_raise_their_own_quota(lab):
    """The quota claims are read-only for the app client, like the tenant id."""
    import boto3
    from botocore import UNSIGNED
    from botocore.config import Config
    from botocore.exceptions import ClientError

    cognito = boto3.Session(region_name=lab.settings.region).client(
        "cognito-idp", endpoint_url=lab.settings.endpoint,
        config=Config(signature_version=UNSIGNED, retries={"max_attempts": 0}))
    user = lab.tenants[0].users[0]
    token = cognito.initiate_auth(
        ClientId=lab.identity.client_id, AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": user, "PASSWORD": lab.password})["AuthenticationResult"][
        "AccessToken"]
    for name in ("custom:quota_rate", "custom:quota_burst"):
        with pytest.raises(ClientError) as raised:
            cognito.update_user_attributes(AccessToken=token,
                                           UserAttributes=[{"Name": name, "Value": "1000"}])
        assert raised.value.response["Error"]["Code"] == "NotAuthorizedException"
