"""Checks of lab 4: tenant-aware routing (ingress, service to service) and per-tenant throttling."""

from . import ingress, service_routing, throttling  # noqa: F401  (registers the exercises)
