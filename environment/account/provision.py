"""Make the lab account match ``infrastructure`` and ``tenants``, idempotently.

It only uses public AWS APIs through boto3, so the same code provisions the
embedded emulator, LocalStack or a real account. Each resource kind is a module
with ``SERVICE``, ``ensure(settings)`` and ``teardown(settings)``; a later lab
that needs queues or topics adds a module and a line to ``KINDS``. On the
embedded emulator it seeds moto's random generator before creating the user
pool, so that pool ids, client ids and user ``sub`` claims are the same on
every machine and after every reset (notebook outputs depend on it).
"""

from __future__ import annotations

from types import ModuleType

from ..errors import LabError
from ..kit_api import kit_request
from ..settings import Settings
from . import buckets, events, pools, queues, roles, routes, signing_keys, tables
from .identity import Identity
from .whoami import account_id

SEED = 4566
# The resource kinds besides the user pool (which ``ensure`` returns), in creation order.
KINDS: tuple[ModuleType, ...] = (tables, roles, buckets, queues, routes, events, signing_keys)

__all__ = ["account_id", "ensure", "prepare_clients", "reset", "seed", "teardown"]


def prepare_clients(settings: Settings) -> None:
    """Build (and cache) the boto3 clients provisioning needs; see emulator.ensure_running."""
    for service in {pools.SERVICE, "sts", *(kind.SERVICE for kind in KINDS)}:
        settings.client(service)


def seed(settings: Settings) -> None:
    kit_request(settings, "POST", "/moto-api/seed", {"a": SEED}, timeout=5).raise_for_status()


def reset(settings: Settings) -> Identity:
    """Back to the provisioned state: everything the labs wrote is gone."""
    if settings.embedded:
        kit_request(settings, "POST", "/moto-api/reset").raise_for_status()
    else:
        teardown(settings)
    return ensure(settings)


def ensure(settings: Settings) -> Identity:
    """Create whatever is missing and return the identity settings of the lab."""
    try:
        identity = pools.find_identity(settings)
        if identity is None:
            if settings.embedded:
                seed(settings)
            identity = pools.create_identity(settings)
        pools.ensure_users(settings, identity)
        for kind in KINDS:
            kind.ensure(settings)
    except LabError:
        raise
    except Exception as error:  # boto3's errors are many; all mean the same to a learner here
        raise LabError(
            f"Provisioning the lab account at {settings.target} failed: {error}",
            "for LocalStack, note that Cognito needs its paid edition; for AWS, check "
            "your credentials and region. `make env-reset` rebuilds the embedded account.",
        ) from error
    return identity


def teardown(settings: Settings) -> list[str]:
    """Delete every resource the kit created (by name prefix). Returns what was deleted.

    On a real account this is the clean-up the reference workshop lacked.
    """
    return [deleted for kind in (pools, *KINDS) for deleted in kind.teardown(settings)]
