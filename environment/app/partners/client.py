"""The partner's client library, as a vendor would ship it: ``partner.charge(...)``.

It speaks HTTP to the partner and turns answers into Python: a charge (a dict), a
``PartnerError`` with the status and whether retrying can help, or a ``PartnerTimeout`` when
the answer did not come within ``timeout`` seconds of the simulated clock. ``timeout=None``
waits as long as the partner takes, as an HTTP client without a timeout does.

``kill_after`` belongs to the checks: the n-th charge that comes back kills the worker
(``WorkerKilled``, which ``except Exception`` does not catch, like a SIGKILL would not be)
right after the partner call and before the worker could record or delete anything.
"""

from __future__ import annotations

from typing import Any

import requests

from .api import TIMED_OUT_HEADER, TIMEOUT_HEADER

REAL_TIMEOUT_S = 10.0  # loopback answers in milliseconds; this only guards against a bug


class PartnerError(Exception):
    """The partner answered with an error; ``retryable`` says whether trying again may help."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(f"{status}: {detail}")
        self.status, self.detail = status, detail

    @property
    def retryable(self) -> bool:
        return self.status >= 500 or self.status == 429


class PartnerTimeout(TimeoutError):
    """No answer within the timeout: the charge may or may not have happened."""

    retryable = True


class WorkerKilled(BaseException):
    """The worker process died (simulated): raised by a client built with ``kill_after``."""


class PartnerClient:
    def __init__(self, url: str, kill_after: int | None = None) -> None:
        self.url = url.rstrip("/")
        self.kill_after = kill_after
        self.answered = 0  # charges that came back (what kill_after counts)
        self._http = requests.Session()

    def charge(self, tenant_id: str, order_id: str, amount: float,
               idempotency_key: str | None = None, timeout: float | None = None) -> dict[str, Any]:
        """Charge ``amount`` for one order; the same ``idempotency_key`` never charges twice."""
        headers = {}
        if idempotency_key is not None:
            headers["Idempotency-Key"] = str(idempotency_key)
        if timeout is not None:
            headers[TIMEOUT_HEADER] = repr(float(timeout))
        response = self._http.post(
            f"{self.url}/v1/charges", headers=headers, timeout=REAL_TIMEOUT_S,
            json={"tenant_id": tenant_id, "order_id": order_id, "amount": amount})
        if response.headers.get(TIMED_OUT_HEADER):
            raise PartnerTimeout(f"no answer from the partner within {timeout:g} s")
        body = response.json()
        if response.status_code >= 400:
            raise PartnerError(response.status_code, body.get("detail", body.get("error", "")))
        self.answered += 1
        if self.kill_after is not None and self.answered >= self.kill_after:
            self.kill_after = None
            raise WorkerKilled("the worker was killed after the partner call")
        return body

    def charges(self) -> list[dict[str, Any]]:
        """Every charge the partner accepted (its own ledger)."""
        return self._http.get(f"{self.url}/v1/charges", timeout=REAL_TIMEOUT_S).json()["charges"]
