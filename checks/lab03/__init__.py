"""Checks of lab 3: tenant context across services (HTTP hops) and messages (signed events)."""

from . import http_context, library, messages  # noqa: F401  (registers the exercises)
