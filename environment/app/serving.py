"""Serve a WSGI app on a free loopback port in a background thread.

Real sockets, so hops between services (and from checks to services) are real
HTTP with real headers; a free port, so several copies (a learner's notebook
and a grader) never collide.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server


class QuietHandler(WSGIRequestHandler):
    """No access log: in a notebook it would print timestamps into cell outputs."""

    def log_request(self, *args: object, **kwargs: object) -> None:
        pass


@dataclass
class RunningService:
    server: BaseWSGIServer
    thread: threading.Thread

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)

    def __enter__(self) -> RunningService:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def serve(app, host: str = "127.0.0.1", port: int = 0) -> RunningService:
    server = make_server(host, port, app, threaded=True, request_handler=QuietHandler)
    # A short poll interval makes stop() quick: checks start and stop services often.
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True,
                              name=f"service-{server.server_address[1]}")
    thread.start()
    return RunningService(server, thread)
