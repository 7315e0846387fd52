"""Checks of lab 3: tenant context across services (HTTP hops) and messages (signed events);
asynchronous request-response and scatter-gather."""

from . import async_jobs, http_context, library, messages, scatter_gather  # noqa: F401
