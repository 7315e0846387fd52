"""The emulator's own endpoints (``/_lab/audit``, ``/moto-api/*``), called as the administrator.

The IAM gate answers them only when the request is signed with the kit's
administrator key: they can read the audit trail, reset or dump the whole
account, so knowing the URL must not be enough. We sign them with botocore's
SigV4 signer, as boto3 signs every other call.
"""

from __future__ import annotations

from urllib.parse import urlencode

import requests
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from .settings import Settings


def kit_request(settings: Settings, method: str, path: str, params: dict | None = None,
                data: bytes = b"", timeout: float = 10) -> requests.Response:
    """One signed request to the emulator's own API."""
    query = urlencode(params or {})
    url = f"{settings.endpoint}{path}" + (f"?{query}" if query else "")
    request = AWSRequest(method=method, url=url, data=data)
    SigV4Auth(Credentials(settings.access_key or "", settings.secret_key or ""), "lab",
              settings.region).add_auth(request)
    return requests.request(method, url, headers=dict(request.headers.items()), data=data,
                            timeout=timeout)
