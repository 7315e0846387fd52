"""Checks of lab 4: tenant-aware routing (ingress, service to service), per-tenant throttling,
and queues against noisy neighbours."""

from . import ingress, noisy, service_routing, throttling  # noqa: F401  (registers the exercises)
