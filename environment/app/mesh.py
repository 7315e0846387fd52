"""Service-to-service routing on the headers ``x-app-tier`` and ``x-app-tenant-id``.

In the reference workshop an Istio VirtualService sends a call for fulfilment to the caller's
deployment by matching two headers the *calling service* sets: premium requests go to the
tenant's silo, the others to the pool. Like Istio, the mesh trusts the headers: it does not
verify tokens (the fulfilment service does that for itself). That is the lesson of lab 4.2: a
service that copies the headers from whatever its caller sent lets that caller pick the silo,
so a service sets them itself, from the tenant context it verified.

The mesh fails closed: a request without both headers, with a tier it does not know, or for a
premium tenant without a silo answers 400 and goes nowhere. It keeps a log of what it routed
(``Mesh.routed``), which the checks compare with the verified context of each request.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from threading import Lock

from flask import Flask, jsonify, request

from ..account.tenants import TIERS
from .proxy import forward

TIER_HEADER = "x-app-tier"
TENANT_HEADER = "x-app-tenant-id"


@dataclass(frozen=True)
class Routed:
    """One call the mesh routed: the headers it matched on and where it sent the call."""

    tenant_id: str
    tier: str
    deployment: str
    path: str


@dataclass
class Mesh:
    """Where each deployment's copy of a service listens, and what the mesh routed."""

    services: dict[str, str]  # deployment name -> base URL of its fulfilment service
    routed: list[Routed] = field(default_factory=list)
    _lock: Lock = field(default_factory=Lock)

    def deployment_for(self, tier: str, tenant_id: str) -> str | None:
        """premium -> ``silo-<tenant>`` (if it exists); basic and advanced -> ``pool``."""
        if tier not in TIERS or not tenant_id:
            return None
        name = "pool" if TIERS[tier].deployment == "pool" else f"silo-{tenant_id}"
        return name if name in self.services else None

    def app(self) -> Flask:
        app = Flask("service-mesh")

        @app.route("/<path:path>", methods=["GET", "POST", "PUT", "DELETE", "PATCH"])
        def route(path: str):
            tier = request.headers.get(TIER_HEADER, "")
            tenant_id = request.headers.get(TENANT_HEADER, "")
            deployment = self.deployment_for(tier, tenant_id)
            if deployment is None:
                return jsonify(error="no route", detail=(
                    f"the mesh routes on {TIER_HEADER} (basic, advanced or premium) and "
                    f"{TENANT_HEADER}; it got {tier!r} and {tenant_id!r}")), 400
            with self._lock:
                self.routed.append(Routed(tenant_id, tier, deployment, f"/{path}"))
            return forward(self.services[deployment], f"/{path}")

        return app
