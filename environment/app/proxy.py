"""Forward one HTTP request to another service and hand its answer back unchanged.

The router (ingress) and the mesh (service to service) both forward; this is the one place
that copies a request and a response, so the two cannot differ in what they pass on.
"""

from __future__ import annotations

import requests
from flask import Response, request

# Hop-by-hop headers (RFC 9110) and those the HTTP stack recomputes: never copied across a hop.
HOP_BY_HOP = frozenset({"connection", "keep-alive", "proxy-authenticate", "proxy-authorization",
                        "te", "trailer", "transfer-encoding", "upgrade", "host",
                        "content-length", "content-encoding"})
TIMEOUT_S = 10


def forward(base_url: str, path: str, extra_headers: dict[str, str] | None = None) -> Response:
    """The current flask request, sent to ``base_url + path``; its answer as a flask Response."""
    headers = {k: v for k, v in request.headers.items() if k.lower() not in HOP_BY_HOP}
    headers.update(extra_headers or {})
    upstream = requests.request(request.method, f"{base_url}{path}", params=request.args,
                                data=request.get_data(), headers=headers, timeout=TIMEOUT_S)
    answer = Response(upstream.content, status=upstream.status_code)
    for key, value in upstream.headers.items():
        if key.lower() not in HOP_BY_HOP and key.lower() not in ("date", "server"):
            answer.headers[key] = value
    return answer
