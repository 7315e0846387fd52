"""What the account and the services answer, as a check reads it.

Shared by every lab's checks: an HTTP reply of a sample service, and the
outcome of a call a check makes on AWS ("allowed", "denied", or what else
happened), so no check module keeps its own copy of either.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import requests
from botocore.exceptions import BotoCoreError, ClientError

from environment.emulator import free_port

from .framework import short


class Reply:
    """An HTTP answer of a sample service, with its JSON body (or {} if it sent none)."""

    def __init__(self, response: requests.Response) -> None:
        self.status = response.status_code
        self.headers = response.headers
        try:
            body = response.json()
        except ValueError:
            body = {"text": response.text[:120]}
        self.body = body if isinstance(body, dict) else {"json": body}

    def __str__(self) -> str:
        return f"{self.status} {short(self.body)}"


def attempt(call: Callable[[], Any]) -> str:
    """'allowed', 'denied', or what else happened, for a call the check makes on AWS."""
    try:
        call()
    except ClientError as error:
        code = error.response["Error"]["Code"]
        return "denied" if code in ("AccessDeniedException", "AccessDenied") else code
    except (BotoCoreError, Exception) as error:  # noqa: BLE001 - a client built wrongly
        return f"{type(error).__name__}: {error}"
    return "allowed"


def nobody_listening() -> str:
    """A loopback URL whose port was free a moment ago: connecting is refused at once (a
    downstream service that is gone, for checks of how a hop reports it)."""
    return f"http://127.0.0.1:{free_port()}"
