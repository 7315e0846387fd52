"""The kit's reference token vending machine (lab 2's exercise 2.2, solved once for later labs).

Later labs need tenant-scoped credentials without depending on the learner's lab 2 answer:
this one assumes the provisioned ``tenant-scoped`` role (lab 2's policy, attached by the kit)
with the tenant as the ``TenantID`` session tag, and keeps one set per tenant until a few
minutes before it expires. ``for_token`` verifies an ID token first, as 2.2 does; a consumer
of messages has no token and calls ``credentials`` with the tenant of a verified envelope.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Any

from ..account.identity import Identity
from ..account.whoami import account_id
from ..settings import EndpointSession, Settings
from .auth import verify_id_token

ROLE = "tenant-scoped"
MARGIN = timedelta(minutes=5)


class TenantVending:
    """Tenant-scoped STS credentials, cached per tenant (``now=`` is the clock, for tests)."""

    def __init__(self, settings: Settings, role: str = ROLE) -> None:
        self.settings = settings
        self.role_arn = f"arn:aws:iam::{account_id(settings)}:role/{settings.name(role)}"
        self._cache: dict[str, dict[str, Any]] = {}
        self._sessions: dict[str, EndpointSession] = {}
        self._lock = threading.Lock()

    def credentials(self, tenant_id: str, now: datetime | None = None) -> dict[str, Any]:
        """Credentials of a session tagged ``TenantID=<tenant_id>``; the caller vouches for
        the tenant (it comes from a verified token or a verified envelope, never a request)."""
        if not isinstance(tenant_id, str) or not tenant_id:
            raise ValueError(f"a tenant id is a non-empty string, not {tenant_id!r}")
        now = now or datetime.now(UTC)
        with self._lock:
            cached = self._cache.get(tenant_id)
            if cached is not None and cached["Expiration"] - now > MARGIN:
                return cached
            fresh = self.settings.client("sts").assume_role(
                RoleArn=self.role_arn, RoleSessionName=f"tenant-{tenant_id}"[:64],
                Tags=[{"Key": "TenantID", "Value": tenant_id}])["Credentials"]
            self._cache[tenant_id] = fresh
            return fresh

    def for_token(self, identity: Identity, id_token: str,
                  now: datetime | None = None) -> dict[str, Any]:
        """Lab 2's vending machine: verify the token, then the credentials of its tenant."""
        return self.credentials(verify_id_token(identity, id_token)["custom:tenant_id"], now)

    def session(self, tenant_id: str) -> EndpointSession:
        """A boto3 session of the tenant's credentials (one per access key: sessions are slow
        to build)."""
        creds = self.credentials(tenant_id)
        with self._lock:
            if creds["AccessKeyId"] not in self._sessions:
                self._sessions[creds["AccessKeyId"]] = self.settings.session(creds)
            return self._sessions[creds["AccessKeyId"]]
