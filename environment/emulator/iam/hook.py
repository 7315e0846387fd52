"""The gate's seat inside moto: where moto asks "may this caller do this?".

moto calls ``_authenticate_and_authorize_action`` from its dispatch of every
service (``BaseResponse.call_action``) and from every S3 handler, after it has
resolved the operation and decoded the parameters, and before it touches a
backend. The gate replaces that method, so it decides on exactly what moto
will execute. The WSGI half of the gate (``gate.py``) authenticates the caller
and hands the result over in a context variable, one ``Exchange`` per request.

Two guards keep this fail-closed: a moto handler that is not one of the
dispatchers known to call the hook is refused before it runs (for anyone but
the administrator), and a request that finishes without a decision is refused
by the WSGI half.
"""

from __future__ import annotations

from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from .calls import protocol_of
from .principals import Principal
from .signing import Signed

# moto's entry points that always reach the hook before any backend call.
GATED_ENTRIES = {"dispatch", "bucket_dispatch", "key_dispatch", "ambiguous_dispatch"}
# moto handlers AWS serves without authentication and that change nothing.
PUBLIC_HANDLERS = {"serve_json_web_key", "serve_openid_configuration"}


@dataclass
class Denial:
    problem: str  # a key of responses.PROBLEMS
    message: str
    service: str = ""
    protocol: str = ""


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
    decide: Callable[[Any, str, Exchange], None]  # the gate's decision; raises Refusal
    decided: bool = False
    denial: Denial | None = None
    assumed: dict[str, Any] | None = None  # an AssumeRole to record once moto answers


CURRENT: ContextVar[Exchange | None] = ContextVar("iam_gate_exchange", default=None)


def _stop(response: Any) -> Exception:
    """An exception moto turns into an error response without running the operation."""
    if getattr(response, "service_name", None) == "s3":
        from moto.s3.exceptions import S3ClientError

        return S3ClientError("AccessDenied", "Access Denied")
    from werkzeug.exceptions import Forbidden

    return Forbidden()


def authorize_in_moto(response: Any, iam_request_cls: type, resource: str = "*") -> None:
    """Replaces moto's ``ActionAuthenticatorMixin._authenticate_and_authorize_action``."""
    exchange = CURRENT.get()
    if exchange is None:  # not through the gate: nobody vouched for the caller
        raise _stop(response)
    if exchange.denial is None:
        try:
            exchange.decide(response, resource, exchange)
        except Refusal as refusal:
            exchange.denial = Denial(refusal.problem, refusal.message)
        except Exception as error:  # a gate that cannot decide denies
            from .failures import explain

            exchange.denial = Denial("denied", explain(error))
    if exchange.denial is not None:
        exchange.decided = False
        denial = exchange.denial
        denial.service = denial.service or response.service_name or ""
        denial.protocol = denial.protocol or protocol_of(denial.service, response.headers,
                                                         response.path)
        raise _stop(response)
    exchange.decided = True


def _guarded(original: Callable[..., Any]) -> Callable[..., Any]:
    def call(self: Any, args: Any = None, **kwargs: Any) -> Any:
        exchange = CURRENT.get()
        if exchange is not None and not exchange.principal.is_admin:
            name = getattr(self.callback, "__name__", "")
            if name in PUBLIC_HANDLERS:
                exchange.decided = True
            elif not _gated(self.callback):
                from flask import Response

                exchange.denial = Denial("denied", "the lab's IAM gate does not know this "
                                                   "endpoint, so it refuses it")
                return Response(status=403)
        return original(self, args, **kwargs)

    call.__wrapped__ = original  # type: ignore[attr-defined]
    return call


def _gated(callback: Any) -> bool:
    from moto.core.responses import BaseResponse

    owner = getattr(callback, "__self__", None)
    return (getattr(callback, "__name__", "") in GATED_ENTRIES and isinstance(owner, type)
            and issubclass(owner, BaseResponse))


def install() -> None:
    """Seat the gate in moto (idempotent): its authorisation hook and the dispatcher guard."""
    from moto.core.authorization import ActionAuthenticatorMixin
    from moto.core.utils import convert_to_flask_response

    ActionAuthenticatorMixin._authenticate_and_authorize_action = authorize_in_moto  # type: ignore[assignment,method-assign]
    if not hasattr(convert_to_flask_response.__call__, "__wrapped__"):
        convert_to_flask_response.__call__ = _guarded(  # type: ignore[method-assign]
            convert_to_flask_response.__call__)
