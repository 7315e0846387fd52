"""Plain words for a request the gate refuses because it could not be handled.

The refusal stays (fail closed); the message says what is wrong with the request, never the
internal exception that stopped the emulator (``KeyError: 'HTTP_…'`` and the like).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qs

from .calls import Unclassifiable


def explain(error: Exception, environ: Mapping[str, Any] | None = None) -> str:
    """Why the gate refuses a request whose handling raised ``error``, in plain words."""
    if isinstance(error, Unclassifiable):
        return f"the lab's IAM gate refuses this request: {error}"
    environ = environ or {}
    target = environ.get("HTTP_X_AMZ_TARGET")
    if target is not None and "." not in target:
        return ("the lab's IAM gate refuses this request: its X-Amz-Target header "
                f"{target!r} does not name a service and an operation ('Service.Operation')")
    query = parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True)
    if len(query.get("Action", [])) > 1:
        return ("the lab's IAM gate refuses this request: it names its operation (Action) more "
                "than once")
    if isinstance(error, KeyError):
        return ("the lab's IAM gate refuses this request: the emulator cannot tell which AWS "
                "service and operation it is for (its path, Host, X-Amz-Target or Action names "
                "none that it serves, or it uses a protocol the service does not speak)")
    return ("the lab's IAM gate refuses this request: the emulator could not read it as a "
            "request of any AWS service it serves")
