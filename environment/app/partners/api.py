"""The partner payment API: ``POST /v1/charges``, over real HTTP on loopback.

It behaves like a card processor such as Stripe: a charge request may carry an
``Idempotency-Key`` header, and a second request with a key it has seen replays the first
charge instead of charging again. Without a key, every accepted request is a new charge. What
it does to each call (fail, hang, succeed) comes from the scenario and the simulated clock
(``scenario.py``); a call's latency moves that clock, so nobody waits for real.

A client's timeout is simulated too: the client names it in ``X-Client-Timeout`` and, when the
partner takes longer, the call costs the client exactly its timeout and the answer is marked
as never received (``X-Simulated-Timeout``). The partner may well have charged the card by
then, which is why a retry must carry the same idempotency key.

Every call is logged (``attempts``) and every accepted charge is kept (``charges``), so a
check counts retries, their timing and double charges where the partner sees them.
"""

from __future__ import annotations

import threading
from dataclasses import asdict, dataclass
from typing import Any

from flask import Flask, jsonify, request

from ..serving import RunningService, serve
from .clock import SimulatedClock
from .scenario import Scenario

TIMEOUT_HEADER = "X-Client-Timeout"
TIMED_OUT_HEADER = "X-Simulated-Timeout"


@dataclass(frozen=True)
class Attempt:
    """One call as the partner saw it: when, for what, with which key and timeout, and how it
    ended (``status`` is what it would have answered; ``timed_out``: the client never heard)."""

    at: float
    tenant_id: str
    order_id: str
    idempotency_key: str | None
    timeout: float | None
    fate: str
    status: int
    elapsed: float
    timed_out: bool
    charge_id: str | None


class PartnerAPI:
    """The partner's state (scenario, clock, charges, call log) and its Flask app."""

    def __init__(self, scenario: Scenario, clock: SimulatedClock) -> None:
        self.scenario, self.clock = scenario, clock
        self.charges: list[dict[str, Any]] = []
        self.attempts: list[Attempt] = []
        self._by_key: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()
        self.app = self._build()

    def reset(self, scenario: Scenario, clock: SimulatedClock) -> None:
        """Start over with another scenario and clock: no charges, no calls, no keys."""
        with self._lock:
            self.scenario, self.clock = scenario, clock
            self.charges, self.attempts, self._by_key = [], [], {}

    def recover(self) -> None:
        """The partner is healthy again (the scenario's failures and outages are over)."""
        self.scenario = self.scenario.recovered()

    def double_charges(self) -> dict[tuple[str, str], int]:
        """(tenant, order) -> number of charges, for every order charged more than once."""
        counts: dict[tuple[str, str], int] = {}
        for charge in self.charges:
            key = (charge["tenant_id"], charge["order_id"])
            counts[key] = counts.get(key, 0) + 1
        return {key: n for key, n in counts.items() if n > 1}

    def charge(self, body: Any, key: str | None, timeout: float | None) -> tuple[int, dict, bool]:
        """Decide one call: (status, answer, timed out). Moves the clock by what it cost."""
        problem = _invalid(body)
        if problem:
            return 400, {"error": "invalid request", "detail": problem}, False
        with self._lock:
            now = self.clock.now()
            fate, latency = self.scenario.fate(len(self.attempts), now)
            status, answer = self._answer(fate, body, key, now)
            timed_out = timeout is not None and latency > timeout
            elapsed = min(latency, timeout) if timeout is not None else latency
            self.attempts.append(Attempt(
                now, body["tenant_id"], body["order_id"], key, timeout, fate, status, elapsed,
                timed_out, answer.get("charge_id")))
            self.clock.advance(elapsed)
        return status, answer, timed_out

    def _answer(self, fate: str, body: dict[str, Any], key: str | None,
                now: float) -> tuple[int, dict[str, Any]]:
        if fate in ("error", "down"):
            words = "the partner is down" if fate == "down" else "temporarily unavailable"
            return 503, {"error": "unavailable", "detail": words}
        if fate == "throttled":
            return 429, {"error": "too many requests", "detail": "rate limited: slow down"}
        if float(body["amount"]) > self.scenario.limit:
            return 402, {"error": "declined", "detail": "card declined: amount over the limit"}
        if key is not None and key in self._by_key:
            first = self._by_key[key]
            if (first["tenant_id"], first["order_id"]) != (body["tenant_id"], body["order_id"]):
                return 409, {"error": "idempotency key reused",
                             "detail": f"key {key!r} belongs to another charge; the partner "
                                       "replays nothing for it"}
            return 200, {**first, "replayed": True}
        charge = {"charge_id": f"ch_{len(self.charges) + 1:05d}",
                  "tenant_id": body["tenant_id"], "order_id": body["order_id"],
                  "amount": body["amount"], "idempotency_key": key, "at": round(now, 3)}
        self.charges.append(charge)
        if key is not None:
            self._by_key[key] = charge
        return 201, {**charge, "replayed": False}

    def _build(self) -> Flask:
        app = Flask("partner-payments")

        @app.post("/v1/charges")
        def create_charge():
            raw = request.headers.get(TIMEOUT_HEADER)
            try:
                timeout = None if raw is None else float(raw)
            except ValueError:
                return jsonify(error="invalid request", detail=f"{TIMEOUT_HEADER}: {raw!r}"), 400
            key = request.headers.get("Idempotency-Key") or None
            status, answer, timed_out = self.charge(request.get_json(silent=True), key, timeout)
            response = jsonify(answer)
            response.status_code = status
            if timed_out:
                response.headers[TIMED_OUT_HEADER] = "1"
            return response

        @app.get("/v1/charges")
        def list_charges():
            with self._lock:
                return jsonify(charges=list(self.charges))

        @app.get("/v1/attempts")
        def list_attempts():
            with self._lock:
                return jsonify(attempts=[asdict(a) for a in self.attempts])

        return app


def _invalid(body: Any) -> str:
    if not isinstance(body, dict):
        return "the body is a JSON object: {tenant_id, order_id, amount}"
    for name in ("tenant_id", "order_id"):
        if not isinstance(body.get(name), str) or not body[name]:
            return f"{name} must be a non-empty string"
    amount = body.get("amount")
    if isinstance(amount, bool) or not isinstance(amount, int | float) or amount <= 0:
        return "amount must be a positive number"
    return ""


@dataclass
class Partner:
    """A running partner: its state, its URL, and clients for it."""

    api: PartnerAPI
    service: RunningService

    @property
    def url(self) -> str:
        return self.service.url

    def client(self, kill_after: int | None = None):
        """A client; ``kill_after=n``: the worker using it dies once n charges came back."""
        from .client import PartnerClient

        return PartnerClient(self.url, kill_after=kill_after)

    def stop(self) -> None:
        self.service.stop()

    def __enter__(self) -> Partner:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start_partner(scenario: Scenario | None = None,
                  clock: SimulatedClock | None = None) -> Partner:
    """Serve a partner on a free loopback port (``with start_partner(...) as partner:``)."""
    api = PartnerAPI(scenario or Scenario(), clock or SimulatedClock())
    return Partner(api, serve(api.app))
