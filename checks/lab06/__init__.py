"""Checks of lab 6: a flaky partner API behind a queue (proxy, idempotency, redrive, status)."""

from . import idempotency, proxy, redrive, status  # noqa: F401  (registers the exercises)
