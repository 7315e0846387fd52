"""What lab 4's checks share: request headers as a router sees them, the refusals it maps."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

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


def headers(token: str | None = None, **extra: str) -> ReadHeaders:
    """Request headers, case-insensitive as a web framework hands them over."""
    found = ReadHeaders()
    if token is not None:
        found["Authorization"] = f"Bearer {token}"
    for key, value in extra.items():
        found[key] = value
    return found


class ReadHeaders(Headers):
    """Request headers that remember every name learner code looked up (get, [], in).

    A spoof list only names the headers the check thought of; this catches them all: a router
    or a service that looks up anything but Authorization is deciding from what the caller
    typed. Copying every header (``dict(headers)``, ``items()``) is not a look-up.
    """

    def __init__(self, given: Iterable[tuple[str, str]] = ()) -> None:
        super().__init__(list(given))
        self.asked: list[str] = []
        self._handed: list[str] = []  # the key objects keys() gave out (dict(headers) uses them)

    def keys(self, lower: bool = False) -> Any:
        for key in super().keys(lower):
            fresh = "".join(key)  # a new object: only keys() hands it out
            self._handed.append(fresh)
            yield fresh

    def _get_key(self, key: str) -> str:
        if not any(key is handed for handed in self._handed):
            self.asked.append(str(key))
        return super()._get_key(key)

    def getlist(self, key: str, type: Any = None) -> list:  # noqa: A002 - werkzeug's name
        self.asked.append(str(key))
        return super().getlist(key, type)

    def typed(self, allowed: Iterable[str] = ("authorization",)) -> list[str]:
        """The names looked up beyond ``allowed``, in order, once each."""
        ok = {name.lower() for name in allowed}
        return list(dict.fromkeys(name for name in self.asked if name.lower() not in ok))


# What a request lets code read besides its headers: the caller typed all of it.
REQUEST_PARTS = ("args", "form", "values", "json", "get_json", "data", "get_data", "cookies")


class ReadRequest:
    """A Flask request seen through ``ReadHeaders``, remembering what else was read."""

    def __init__(self, request: Any) -> None:
        self._request = request
        self.headers = ReadHeaders(request.headers.items())
        self.parts: list[str] = []

    def __getattr__(self, name: str) -> Any:
        if name in REQUEST_PARTS:
            self.parts.append(name)
        return getattr(self._request, name)

    def typed(self) -> list[str]:
        parts = [f"request.{name}" for name in dict.fromkeys(self.parts)]
        return [f"the header {name!r}" for name in self.headers.typed()] + parts


def only_the_token(t: Any, read: list[str], sent: str, hint: str) -> None:
    """Fail the case if learner code read anything the caller typed besides Authorization."""
    t.expect(not read, "nothing read from the request but its Authorization header",
             f"your code read {', '.join(read)}", sent=sent, hint=hint)


def as_user(lab: Lab, email: str, spoofed: dict[str, str] | None = None) -> ReadHeaders:
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
