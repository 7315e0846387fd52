"""The emulator process: moto's server app behind the kit's own front door.

It runs as its own process (``python -m environment.emulator.server``) so that it
outlives notebook kernels and can be stopped with one command. The front door
answers ``/_lab/health`` so the kit can tell its own emulator from any other
program that happens to hold the port; behind it the IAM gate (``iam.gate``)
wraps moto's app, unless ``LAB_IAM_GATE=0`` asks for plain moto (benchmarks).
The same process runs the EMF agent (``emf``) on ``LAB_EMF_PORT`` (the CloudWatch
agent's 25888 by default) and answers Logs Insights queries with the kit's subset
(``logs_query``), both seated here.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

HEALTH_PATH = "/_lab/health"
SERVICE_NAME = "saas-lab-kit"


@functools.cache
def code_version() -> str:
    """A fingerprint of the code the emulator process runs, so an outdated emulator is noticed.

    It hashes this whole package and every module outside it that the package imports (found
    by reading the imports, not from a hand-kept list that could miss one). Computed once per
    process: every connect() asks for it, and reading the code takes a fifth of a second.
    """
    import hashlib

    digest = hashlib.sha256()
    for path in sorted(_emulator_code()):
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def _emulator_code() -> set[Path]:
    import ast

    package = Path(__file__).resolve().parent
    root = package.parent.parent  # the folder that holds the top-level package
    found = set(package.rglob("*.py"))
    for path in list(found):
        parts = path.relative_to(root).with_suffix("").parts
        for node in ast.walk(ast.parse(path.read_bytes())):
            if not (isinstance(node, ast.ImportFrom) and node.level):
                continue
            base = root.joinpath(*parts[: len(parts) - node.level])
            modules = ([base.joinpath(*node.module.split("."))] if node.module
                       else [base / alias.name for alias in node.names])
            for module in modules:
                for candidate in (module.with_suffix(".py"), module / "__init__.py"):
                    if candidate.exists() and package not in candidate.parents:
                        found.add(candidate)
    return found


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


def build_app(agent: Any = None, forget: Callable[[], None] = lambda: None) -> WSGIApp:
    """moto behind the kit's layers: the EMF agent's status path, the IAM gate, the health path.

    The agent's path sits inside the gate, so only the administrator reads it.
    """
    from ..settings import load_settings
    from .iam.gate import IamGate
    from .logs_query import install as install_log_queries
    from .moto_adapter import server_app

    install_log_queries()
    moto = server_app()
    if agent is not None:
        from .emf.status import with_agent

        moto = with_agent(moto, agent, forget)
    if os.environ.get("LAB_IAM_GATE", "1") == "0":  # plain moto, for benchmarks only
        return with_health(moto, time.time())
    settings = load_settings()  # the kit's own clients sign with the administrator's key
    return with_health(IamGate(moto, settings.access_key or "test",
                               settings.secret_key or "test"), time.time())


def emf_agent(host: str, port: int) -> tuple[Any, Callable[[], None]]:
    """The EMF agent for the emulator on ``host:port``, writing through that same endpoint.

    It listens on the settings' ``emf_port`` and logs to ``emf-agent-<port>.log`` in the state
    folder. Returns the agent and the publisher's ``forget`` (called when the account resets).
    """
    import dataclasses

    from ..settings import load_settings
    from .emf import Agent
    from .emf.publish import Publisher
    from .moto_adapter import put_metric_data

    settings = dataclasses.replace(load_settings(), endpoint=f"http://{host}:{port}",
                                   embedded=True)
    publisher = Publisher(settings.client, put_metrics=lambda namespace, data: put_metric_data(
        settings.region, namespace, data))
    log = settings.state_dir / f"emf-agent-{port}.log"
    return Agent("127.0.0.1", settings.emf_port, publisher.write, log), publisher.forget


def serve(host: str, port: int) -> None:
    import logging

    from werkzeug.serving import make_server

    from .moto_adapter import request_handler

    if os.environ.get("LAB_ACCESS_LOG") != "1":
        logging.getLogger("werkzeug").setLevel(logging.WARNING)

    agent, forget = emf_agent(host, port)
    try:
        server = make_server(host, port, build_app(agent, forget), threaded=True,
                             request_handler=request_handler())
    except OSError as error:
        print(f"cannot listen on {host}:{port}: {error}", file=sys.stderr, flush=True)
        raise SystemExit(3) from None
    if not agent.start():
        print(f"EMF agent: {agent.error}", file=sys.stderr, flush=True)
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
