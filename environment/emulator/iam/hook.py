"""The gate's seat inside moto: where moto asks "may this caller do this?".

moto asks from its dispatch of every service and from every S3 handler, after
it has resolved the operation and decoded the parameters, and before it
touches a backend (``moto_adapter.install`` seats ``authorize`` there). So the
gate decides on exactly what moto will execute. The WSGI half of the gate
(``gate.py``) authenticates the caller and hands the result over in a context
variable, one ``Exchange`` per request.

Two guards keep this fail-closed: a moto handler that is not one of the
dispatchers known to ask is refused before it runs (for anyone but the
administrator), and a request that finishes without a decision is refused by
the WSGI half.
"""

from __future__ import annotations

from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from .. import moto_adapter
from ..moto_adapter import HandlerKind, MotoRequest
from .calls import Protocol, protocol_of
from .principals import Principal
from .signing import Signed


@dataclass
class Denial:
    problem: str  # a key of responses.PROBLEMS
    message: str
    service: str = ""
    protocol: Protocol | None = None  # None: guessed from the request when answering


class Refusal(Exception):
    """Raised by the gate's decision to stop moto; carries what the caller will be told."""

    def __init__(self, problem: str, message: str) -> None:
        super().__init__(message)
        self.problem, self.message = problem, message


@dataclass
class Exchange:
    """What the WSGI half knows about one request, and what the hook decided about it."""

    principal: Principal
    signed: Signed | None
    decide: Callable[[MotoRequest, str, Exchange], None]  # the gate's decision; raises Refusal
    decided: bool = False
    denial: Denial | None = None
    assumed: dict[str, Any] | None = None  # an AssumeRole to record once moto answers


CURRENT: ContextVar[Exchange | None] = ContextVar("iam_gate_exchange", default=None)


def authorize(request: MotoRequest, resource: str) -> bool:
    """Whether moto may execute this request; a refusal is kept for the WSGI half to answer."""
    exchange = CURRENT.get()
    if exchange is None:  # not through the gate: nobody vouched for the caller
        return False
    if exchange.denial is None:
        try:
            exchange.decide(request, resource, exchange)
        except Refusal as refusal:
            exchange.denial = Denial(refusal.problem, refusal.message)
        except Exception as error:  # a gate that cannot decide denies
            from .failures import explain

            exchange.denial = Denial("denied", explain(error))
    if exchange.denial is not None:
        exchange.decided = False
        denial = exchange.denial
        denial.service = denial.service or request.service
        denial.protocol = denial.protocol or protocol_of(denial.service, request.headers,
                                                         request.path)
        return False
    exchange.decided = True
    return True


def may_run(kind: HandlerKind) -> bool:
    """Whether a moto handler may run at all (it is refused if the hook would never see it)."""
    exchange = CURRENT.get()
    if exchange is None or exchange.principal.is_admin or kind == "gated":
        return True
    if kind == "public":
        exchange.decided = True
        return True
    exchange.denial = Denial("denied", "the lab's IAM gate does not know this endpoint, so it "
                                       "refuses it")
    return False


def install() -> None:
    """Seat the gate in moto (idempotent)."""
    moto_adapter.install(authorize, may_run)
