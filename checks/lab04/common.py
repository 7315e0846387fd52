"""What lab 4's checks share: request headers as a router sees them, the refusals it maps."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from werkzeug.datastructures import Headers

from environment.account.tenants import TENANTS, Tenant
from environment.app.deployments import Deployments, start_deployments
from environment.app.router import REFUSED_TENANT, REFUSED_TOKEN
from environment.lab import Lab

# What the router turns into 401 (the token) and 403 (the tenant): see environment.app.router.
TOKEN_REFUSALS: tuple[type[BaseException], ...] = REFUSED_TOKEN
TENANT_REFUSALS: tuple[type[BaseException], ...] = REFUSED_TENANT
# Headers a caller can type and a router must never route on.
SPOOFED = {"x-app-tier": "premium", "x-app-tenant-id": "tenant-c", "X-Tenant-Id": "tenant-c",
           "X-Tenant-Tier": "premium", "X-Deployment": "silo-tenant-c",
           "X-Quota-Rate": "1000", "X-Quota-Burst": "1000"}


def headers(token: str | None = None, **extra: str) -> Headers:
    """Request headers, case-insensitive as a web framework hands them over."""
    found = Headers()
    if token is not None:
        found["Authorization"] = f"Bearer {token}"
    for key, value in extra.items():
        found[key] = value
    return found


def as_user(lab: Lab, email: str, spoofed: dict[str, str] | None = None) -> Headers:
    found = headers(lab.id_token(email))
    for key, value in (spoofed or {}).items():
        found[key] = value
    return found


def tenant(tenant_id: str) -> Tenant:
    return next(t for t in TENANTS if t.id == tenant_id)


def kit_route(lab: Lab, routes) -> Callable[[Mapping[str, str]], str]:
    """The check's own routing function (the kit's answer to 4.1), for checks that need a router
    whose routing is not the learner's to get right."""
    from environment.account.routes import route_key
    from environment.app.auth import bearer_token, verify_id_token

    def route(given: Mapping[str, str]) -> str:
        claims = verify_id_token(lab.identity, bearer_token(given))
        item = routes.get_item(Key=route_key(claims["custom:tenant_id"])).get("Item")
        if item is None:
            raise PermissionError(f"no route for {claims['custom:tenant_id']!r}")
        return item["deployment"]

    return route


_RUNNING: dict[object, Deployments] = {}


def running_deployments(lab: Lab, fulfil: Callable | None = None) -> Deployments:
    """The deployments, started once per process and lab (seven services take ~0.7 s to start
    and stop); ``fulfil`` becomes their order services' hook for this check."""
    running = _RUNNING.get(lab.settings)
    if running is None:
        running = _RUNNING[lab.settings] = start_deployments(lab)
    running.fulfil = fulfil
    return running
