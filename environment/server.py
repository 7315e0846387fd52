"""The emulator process: moto's server app behind the kit's own front door.

It runs as its own process (``python -m environment.server``) so that it
outlives notebook kernels and can be stopped with one command. The front door
answers ``/_lab/health`` so the kit can tell its own emulator from any other
program that happens to hold the port; later layers (the IAM gate) wrap the
same app.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable, Iterable
from typing import Any

HEALTH_PATH = "/_lab/health"
SERVICE_NAME = "saas-lab-kit"
SERVER_CODE = ("server.py", "iam")  # what runs inside the emulator process


def code_version() -> str:
    """A fingerprint of the emulator's own code, so an outdated running emulator is noticed."""
    import hashlib
    from pathlib import Path

    here = Path(__file__).resolve().parent
    digest = hashlib.sha256()
    for name in SERVER_CODE:
        for path in sorted((here / name).rglob("*.py")) if (here / name).is_dir() else [
                here / name]:
            digest.update(path.read_bytes())
    return digest.hexdigest()[:16]

WSGIApp = Callable[[dict[str, Any], Callable], Iterable[bytes]]


def with_health(app: WSGIApp, started: float) -> WSGIApp:
    """Answer the health path ourselves and hand everything else to moto."""
    version = code_version()

    def front_door(environ: dict[str, Any], start_response: Callable) -> Iterable[bytes]:
        if environ.get("PATH_INFO") == HEALTH_PATH:
            body = json.dumps(
                {"service": SERVICE_NAME, "pid": os.getpid(), "started": started,
                 "version": version}
            ).encode()
            start_response("200 OK", [("Content-Type", "application/json"),
                                      ("Content-Length", str(len(body)))])
            return [body]
        return app(environ, start_response)

    return front_door


def build_app() -> WSGIApp:
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

    from .iam.gate import IamGate
    from .settings import load_settings

    moto = DomainDispatcherApplication(create_backend_app)
    if os.environ.get("LAB_IAM_GATE", "1") == "0":  # plain moto, for benchmarks only
        return with_health(moto, time.time())
    settings = load_settings()  # the kit's own clients sign with the administrator's key
    return with_health(IamGate(moto, settings.access_key or "test",
                               settings.secret_key or "test"), time.time())


def serve(host: str, port: int) -> None:
    import logging

    from moto.moto_server.werkzeug_app import MotoRequestHandler
    from werkzeug.serving import make_server

    if os.environ.get("LAB_ACCESS_LOG") != "1":
        logging.getLogger("werkzeug").setLevel(logging.WARNING)

    try:
        server = make_server(host, port, build_app(), threaded=True,
                             request_handler=MotoRequestHandler)
    except OSError as error:
        print(f"cannot listen on {host}:{port}: {error}", file=sys.stderr, flush=True)
        raise SystemExit(3) from None
    print(f"listening on http://{host}:{port}", flush=True)
    server.serve_forever()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=4566)
    args = parser.parse_args(argv)
    serve(args.host, args.port)


if __name__ == "__main__":
    main()
