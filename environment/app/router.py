"""The ingress router: every request enters here and is forwarded to its tenant's deployment.

``route`` is a function of the request's headers that returns the name of the deployment that
serves the caller (lab 4.1's function); ``throttle``, if given, is a function of the same
headers that returns 0 to let the request pass or the seconds the caller must wait (lab 4.3).

The router fails closed, whatever those functions do:

* a refusal of the token (PyJWT's errors, ``Unauthorized``, ``ValueError``) answers **401**;
* ``PermissionError``, raised on purpose (a tenant without a route), answers **403**;
* anything else they raise or return (a crash, ``None``, a deployment that does not exist)
  answers **5xx** and is *not* forwarded: there is no default route, ever;
* a positive wait answers **429** with ``Retry-After`` in whole seconds, rounded up.

A ``KeyError`` is a crash, not a decision (``item["Item"]`` on a missing route): it answers 500
with what happened, so a lab sees the difference.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from decimal import Decimal
from numbers import Real
from typing import Any

import jwt
from flask import Flask, jsonify, request

from .context import Unauthorized
from .proxy import forward

Route = Callable[[Mapping[str, str]], str]
Throttle = Callable[[Mapping[str, str]], float]
ROUTED_HEADER = "X-Routed-To"
REFUSED_TOKEN = (jwt.PyJWTError, Unauthorized, ValueError)
REFUSED_TENANT = (PermissionError,)


def _refusal(error: Exception) -> tuple[Any, int]:
    """What the router answers when a learner function raised ``error``."""
    detail = f"{type(error).__name__}: {error}"
    if isinstance(error, NotImplementedError):
        return jsonify(error="not implemented", detail=str(error)), 501
    if isinstance(error, REFUSED_TOKEN):
        return jsonify(error="unauthorized", detail=detail), 401
    if isinstance(error, REFUSED_TENANT):
        return jsonify(error="forbidden", detail=detail), 403
    return jsonify(error="router error", detail=f"not forwarded: {detail}"), 500


def retry_after(wait: float) -> str:
    """Retry-After in whole seconds (RFC 9110), never less than the wait and never 0."""
    return str(max(1, math.ceil(wait)))


def wait_seconds(wait: object) -> float | None:
    """A throttle's answer as a finite float (an int, float, Fraction, Decimal...), else None:
    a bool, a string, NaN, an infinity or a number too big for a float is no wait."""
    if isinstance(wait, bool) or not isinstance(wait, Real | Decimal):
        return None
    try:
        seconds = float(wait)
    except (OverflowError, ValueError, TypeError):
        return None
    return seconds if math.isfinite(seconds) else None


def _shown(value: object, limit: int = 80) -> str:
    """repr, cut short (10**400 has 401 digits), and never raising."""
    try:
        text = repr(value)
    except Exception:  # noqa: BLE001 - a value whose repr fails is still an answer to show
        text = f"a {type(value).__name__}"
    return text if len(text) <= limit else text[: limit - 3] + "..."


def create_router(route: Route, services: Mapping[str, Mapping[str, str]],
                  throttle: Throttle | None = None) -> Flask:
    """``services``: deployment name -> {"orders": base URL, "products": ..., ...}.

    The first segment of the path names the service (``/orders/...`` goes to the order service
    of the caller's deployment).
    """
    app = Flask("ingress-router")

    @app.get("/health")
    def health():
        return jsonify(service="ingress-router", status="ok")

    @app.route("/<service>", methods=["GET", "POST", "PUT", "DELETE", "PATCH"])
    @app.route("/<service>/<path:rest>", methods=["GET", "POST", "PUT", "DELETE", "PATCH"])
    def ingress(service: str, rest: str = ""):
        headers = request.headers  # case-insensitive, as the functions' callers expect
        try:
            deployment = route(headers)
        except Exception as error:  # noqa: BLE001 - fail closed on whatever the route raised
            return _refusal(error)
        if type(deployment) is not str or deployment not in services:  # a str subclass too
            return jsonify(error="no such deployment", detail=(
                f"the route returned {_shown(deployment)}; deployments: {sorted(services)}. "
                "Not forwarded.")), 502
        if throttle is not None:
            try:
                wait = throttle(headers)
            except Exception as error:  # noqa: BLE001 - fail closed, as for the route
                return _refusal(error)
            seconds = wait_seconds(wait)
            if seconds is None:
                return jsonify(error="router error", detail=(
                    f"the throttle returned {_shown(wait)}, not a finite number of seconds. "
                    "Not forwarded.")), 500
            if seconds > 0:
                answer = jsonify(error="too many requests",
                                 detail=f"the tenant's quota is spent: retry in {seconds:.3g} s")
                return answer, 429, {"Retry-After": retry_after(seconds)}
        if service not in services[deployment]:
            return jsonify(error="not found", detail=f"no service {service!r}"), 404
        path = f"/{service}" + (f"/{rest}" if rest else "")
        answer = forward(services[deployment][service], path)
        answer.headers[ROUTED_HEADER] = deployment
        return answer

    return app


def service_urls(deployments: Any) -> dict[str, dict[str, str]]:
    """{deployment: {service: URL}} of running ``deployments.Deployments``."""
    return {name: {service: running.url for service, running in d.services.items()}
            for name, d in deployments.deployments.items()}
