"""Checks of lab 1: tenant context (tokens, middleware) and data partitioning."""

from . import door, partitions, tokens  # noqa: F401  (registers the exercises)
