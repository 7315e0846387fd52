"""Checks of lab 4: tenant-aware routing, throttling, and queues against noisy neighbours."""

from . import noisy  # noqa: F401  (registers the exercises)
