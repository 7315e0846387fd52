"""Checks of lab 3: tenant context across services, queues and events; integration patterns."""

from . import async_jobs, scatter_gather  # noqa: F401  (registers the exercises)
