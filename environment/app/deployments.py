"""The deployments of the sample SaaS: one pool for basic and advanced tenants, a silo each
for premium ones.

Each deployment is its own copy of the services (orders, products, fulfilment), each on its
own loopback port, over its own storage: the pool uses the pooled ``orders`` and ``products``
tables, a silo its tenant's own table (``silo-<tenant id>``). Every answer says which copy
served it (``X-Served-By: order-service/pool``), so a lab sees where a request landed.

A mesh in front of the fulfilment copies routes service-to-service calls on ``x-app-tier`` /
``x-app-tenant-id`` (``mesh``). ``fulfil`` is the order service's hook for handing an order
on (lab 4.2's function): it is called with the incoming request, the stored order and the
mesh's URL. It can be swapped on running deployments (``deployments.fulfil = ...``), so that a
check starts the seven services once per process rather than once per run.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from flask import Flask

from ..account.tenants import TENANTS
from .fulfilment import DEPLOYMENT_HEADER, create_fulfilment_service
from .mesh import Mesh
from .orders import create_order_service
from .products import create_product_service
from .service import Resolver
from .serving import RunningService, serve

POOL = "pool"
# (incoming request, stored order, mesh URL) -> fulfilment's answer: lab 4.2's function
FulfilVia = Callable[[Any, dict[str, Any], str], Any]


def deployment_names() -> list[str]:
    """The pool and one silo per tenant of a silo tier, in a stable order."""
    return [POOL, *sorted({t.deployment_name for t in TENANTS} - {POOL})]


@dataclass
class Deployment:
    name: str
    tables: dict[str, str]  # what the deployment stores -> the table it stores it in
    services: dict[str, RunningService] = field(default_factory=dict)  # "orders" -> running

    def url(self, service: str) -> str:
        return self.services[service].url


@dataclass
class Deployments:
    """Every deployment, running, and the mesh between them; a context manager that stops all."""

    deployments: dict[str, Deployment]
    mesh: Mesh
    mesh_service: RunningService
    _stack: ExitStack
    fulfil: FulfilVia | None = None  # the order services' hook; may be swapped while running

    @property
    def mesh_url(self) -> str:
        return self.mesh_service.url

    def __getitem__(self, name: str) -> Deployment:
        return self.deployments[name]

    def __contains__(self, name: object) -> bool:
        return name in self.deployments

    def stop(self) -> None:
        self._stack.close()

    def __enter__(self) -> Deployments:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def says_who_served(app: Flask, service: str, deployment: str) -> Flask:
    @app.after_request
    def served_by(response):
        response.headers[DEPLOYMENT_HEADER] = f"{service}/{deployment}"
        return response

    return app


def tables_of(deployment: str) -> dict[str, str]:
    """Short table names: the pooled tables, or the silo's own one for everything."""
    if deployment == POOL:
        return {"orders": "orders", "products": "products", "fulfilments": "orders"}
    return dict.fromkeys(("orders", "products", "fulfilments"), deployment)


def start_deployments(lab, resolver: Resolver | None = None,
                      fulfil: FulfilVia | None = None) -> Deployments:
    """Serve every deployment's services and the mesh; stop them with ``.stop()`` or ``with``.

    ``resolver`` resolves tenant context in every service (the kit's verifier by default);
    ``fulfil`` becomes the order services' hook, called with the mesh's URL; without one, an
    order cannot be fulfilled (``POST /orders/<id>/fulfil`` answers 502).
    """
    from .auth import tenant_resolver

    resolve = resolver or tenant_resolver(lab.identity)
    stack = ExitStack()
    try:
        deployments = {name: Deployment(name, tables_of(name)) for name in deployment_names()}
        for name, deployment in deployments.items():
            table = lab.table(deployment.tables["fulfilments"])
            app = create_fulfilment_service(table, resolve, deployment=name)
            deployment.services["fulfilments"] = stack.enter_context(serve(app))
        mesh = Mesh({name: d.url("fulfilments") for name, d in deployments.items()})
        mesh_service = stack.enter_context(serve(mesh.app()))
        running = Deployments(deployments, mesh, mesh_service, stack, fulfil)
        hook = partial(_via_mesh, running)
        for name, deployment in deployments.items():
            orders = create_order_service(lab.table(deployment.tables["orders"]), resolve, hook)
            products = create_product_service(lab.table(deployment.tables["products"]), resolve)
            deployment.services["orders"] = stack.enter_context(
                serve(says_who_served(orders, "order-service", name)))
            deployment.services["products"] = stack.enter_context(
                serve(says_who_served(products, "product-service", name)))
    except BaseException:
        stack.close()
        raise
    return running


def _via_mesh(running: Deployments, incoming: Any, order: dict[str, Any]) -> Any:
    fulfil = running.fulfil
    if fulfil is None:
        raise RuntimeError("these deployments hand orders to no fulfilment (no fulfil hook)")
    return fulfil(incoming, order, running.mesh_url)
