"""What lab 4's checks share: request headers as a router sees them, the refusals it maps."""

from __future__ import annotations

from collections.abc import Callable, Mapping

import jwt
from werkzeug.datastructures import Headers

from environment.account.tenants import TENANTS, Tenant
from environment.app.context import Unauthorized
from environment.lab import Lab

# What the router turns into 401 (the token) and 403 (the tenant): see environment.app.router.
TOKEN_REFUSALS: tuple[type[BaseException], ...] = (jwt.PyJWTError, Unauthorized, ValueError)
TENANT_REFUSALS: tuple[type[BaseException], ...] = (PermissionError,)
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
