"""The report service: a long job answered at once with ``202 Accepted``, done later by a worker.

Asynchronous request-response (SAS312): ``POST /reports`` records a job for the caller's tenant,
puts it on a queue and answers ``202 Accepted`` with a ``Location`` to poll; a worker takes jobs
off the queue and stores each result beside its job; ``GET /reports/<id>`` tells the job's
status. What the three do is pluggable (a lab writes them); the service only routes, resolves
the tenant at the door, and turns a handler's error into a JSON 500 that names it.

The worker runs in-process, one message per ``step()``, so a notebook or a check decides how
far it gets (no wall clock, no background thread to wait for).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from flask import Flask, Response, jsonify, make_response, request
from werkzeug.exceptions import HTTPException

from .context import TenantContext
from .service import Resolver, current_tenant, tenant_service


@dataclass
class ReportDesk:
    """Where report jobs live: in the tenant's partition of ``table``, their work on a queue."""

    table: Any  # a boto3 Table: the pooled orders table (jobs sit beside the orders they count)
    sqs: Any  # a boto3 SQS client
    queue_url: str


# (caller's context, request body, desk) -> a Flask answer: (body, status, headers)
Accept = Callable[[TenantContext, dict[str, Any], ReportDesk], Any]
# (caller's context, job id from the path, desk) -> a Flask answer
Status = Callable[[TenantContext, str, ReportDesk], Any]
# (job message as sent, desk) -> None; the worker deletes the message when it returns
Build = Callable[[dict[str, Any], ReportDesk], None]

STATUS_ROUTE = "/reports/<job_id>"


def create_report_service(desk: ReportDesk, resolve_tenant: Resolver, accept: Accept,
                          status: Status, status_route: str = STATUS_ROUTE) -> Flask:
    """``POST /reports`` -> ``accept``; ``GET <status_route>`` -> ``status``.

    ``status_route`` may move the status resource: a client that follows ``Location`` finds
    it wherever it is, one that builds the path itself does not.
    """
    app = tenant_service("report-service", resolve_tenant)

    def submit():
        body = request.get_json(silent=True)
        return answered("accept_report", accept, current_tenant(),
                        body if isinstance(body, dict) else {}, desk)

    def job_status(job_id: str):
        return answered("report_status", status, current_tenant(), job_id, desk)

    app.add_url_rule("/reports", "submit_report", submit, methods=["POST"])
    app.add_url_rule(status_route, "report_status", job_status, methods=["GET"])

    @app.errorhandler(Exception)
    def handler_failed(error: Exception):  # a handler's bug, in JSON (not a traceback on stderr)
        if isinstance(error, HTTPException):
            return jsonify(error=error.name.lower(), detail=error.description), error.code
        return jsonify(error="server error", detail=f"{type(error).__name__}: {error}"), 500

    return app


def answered(name: str, handler: Callable[..., Any], *args: Any) -> Response:
    """The handler's answer as a response, or a JSON 500 that names what was wrong with it.

    Flask turns a handler's return value into a response after the view returns, and Werkzeug
    checks the headers only while sending it: a malformed answer (``(None, 404)``, a Location
    that is not a URL) would surface as a generic HTML 500 and a traceback on the server's
    stderr. Building the response here keeps the learner's error in the answer instead.
    """
    answer = handler(*args)  # its own errors go to the app's error handler, named
    try:
        response = make_response(answer)
    except (TypeError, ValueError) as error:
        return _failed(f"{name} returned {answer!r:.80}, which Flask cannot send: "
                       f"{type(error).__name__}: {error}")
    location = response.headers.get("Location")
    if location is not None:
        try:
            urlsplit(location)
        except ValueError as error:
            return _failed(f"{name} answered a Location that is not a URL ({location!r}): "
                           f"{error}")
    return response


def _failed(detail: str) -> Response:
    response = jsonify(error="server error", detail=detail)
    response.status_code = 500
    return response


class ReportWorker:
    """Takes report jobs off the queue, one per ``step()``, and hands each to ``build``.

    A message is deleted only when ``build`` returns; if it raises, the error propagates and
    the message comes back after its visibility timeout (and, after ``max_receives``, lands in
    the dead-letter queue), which is how a queue keeps a job that failed.
    """

    def __init__(self, desk: ReportDesk, build: Build) -> None:
        self.desk, self.build = desk, build
        self.done = 0

    def step(self) -> bool:
        """Work one job if one is waiting; whether there was one."""
        answer = self.desk.sqs.receive_message(QueueUrl=self.desk.queue_url,
                                               MaxNumberOfMessages=1, WaitTimeSeconds=0)
        messages = answer.get("Messages", [])
        if not messages:
            return False
        message = messages[0]
        try:
            job = json.loads(message["Body"])
        except ValueError:
            job = {"body": message["Body"]}
        self.build(job if isinstance(job, dict) else {"body": job}, self.desk)
        self.desk.sqs.delete_message(QueueUrl=self.desk.queue_url,
                                     ReceiptHandle=message["ReceiptHandle"])
        self.done += 1
        return True

    def run(self, steps: int) -> int:
        """At most ``steps`` jobs (a bound, never "until the queue looks empty"); how many ran."""
        ran = 0
        while ran < steps and self.step():
            ran += 1
        return ran
