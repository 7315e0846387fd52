"""``/_lab/emf``: the agent's endpoint, counters and log, and ``settle`` over HTTP.

The middleware sits between the IAM gate and moto, so only the administrator reaches it (the
gate answers ``/_lab/*`` for the administrator alone). ``GET /_lab/emf?settle=1`` first waits
until every byte already sent to the agent is processed: a check that emitted events reads the
counters, or the metrics, only after that, with no sleep and no polling. A reset of the account
(``/moto-api/reset``) also zeroes the counters and makes the agent create its log groups again.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ...settings import Settings
    from .listener import Agent

STATUS_PATH = "/_lab/emf"
WSGIApp = Callable[[dict[str, Any], Callable], Iterable[bytes]]


def with_agent(app: WSGIApp, agent: Agent, forget: Callable[[], None]) -> WSGIApp:
    """Answer ``/_lab/emf`` from the agent; tell it when the account is reset."""

    def front(environ: dict[str, Any], start_response: Callable) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path == STATUS_PATH:
            settled = None
            if "settle=1" in environ.get("QUERY_STRING", "").split("&"):
                settled = agent.settle()
            body = json.dumps({**agent.status(), "settled": settled}).encode()
            start_response("200 OK", [("Content-Type", "application/json"),
                                      ("Content-Length", str(len(body)))])
            return [body]
        if path.startswith("/moto-api/reset"):
            agent.settle()  # what was sent before the reset belongs to the old account
            forget()
            agent.reset()
        return app(environ, start_response)

    return front


def agent_status(settings: Settings, settle: bool = True) -> dict[str, Any]:
    """The agent's counters (lines, stored, published, malformed, ...), its endpoint and log.

    With ``settle`` (the default) it first waits until everything sent so far is processed, so
    what the counters say, and what CloudWatch answers afterwards, includes every event emitted
    before the call.
    """
    from ...kit_api import kit_request

    response = kit_request(settings, "GET", STATUS_PATH, {"settle": "1"} if settle else None,
                           timeout=90)
    response.raise_for_status()
    return response.json()
