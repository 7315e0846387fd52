"""Check 3.4: asynchronous request-response, 202 Accepted and a tenant-scoped status resource.

The check serves the report service with the learner's handlers over real HTTP, on a table of
its own (signed with the check's session, so the IAM gate's audit trail shows how the worker
read) and a queue of its own. The worker runs in-process for a bounded number of steps; the
learner's client polls with a ``wait`` the check hands it, which moves the worker along, and
which refuses to be called forever. Tokens are real: every tenant's user, and Bob asking for
Alice's job. Numbers vary by tenant so that no constant passes.

What no check can rule out: code that behaves only when it recognises the check (its table's
name, the call stack). The names here are the kit's usual ones, and such code is cheating the
learner, not the check.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from decimal import Decimal
from typing import Any
from urllib.parse import urljoin, urlparse

import requests
from flask import make_response, request

from environment.account.tenants import TENANTS
from environment.app.auth import tenant_resolver
from environment.app.context import TenantContext
from environment.app.keys import order_sk, product_sk, report_sk, tenant_pk
from environment.app.reports import ReportDesk, ReportWorker, create_report_service
from environment.app.serving import serve

from ..answers import Reply
from ..framework import NotStarted, Trial, exercise, short
from ..fresh_state import twins
from ..scratch import PARTITION_READS, ScratchTable, fresh_table, raw_items
from ..scratch_queues import fresh_queue

ALICE, BOB = TENANTS[0].users[0], TENANTS[1].users[0]
# Orders per tenant (quantities per order): different for each, so no constant fits them all.
PLANTED: dict[str, list[int]] = {"tenant-a": [2, 1, 4], "tenant-b": [1, 1, 1, 3, 2],
                                 "tenant-c": [], "tenant-d": [7, 5], "tenant-aa": [9, 9]}
WORKER_STEPS = 12
# What the worker may do on the table: read its tenant's partition, write the job's result.
WORKER_CALLS = PARTITION_READS | {"GetItem", "PutItem", "UpdateItem"}
MAX_WAITS = 40
# A refusal may be any exception (raise_for_status()'s HTTPError, a RuntimeError, your own
# class): what matters is that the client raises instead of returning or polling on.
REFUSALS = (Exception,)
# What the status resource may do on the table: read one item (or the caller's partition).
STATUS_CALLS = PARTITION_READS | {"GetItem", "PutItem", "UpdateItem"}
# What a lure names as the tenant, in the body, the headers and the query string: the token
# alone decides the tenant, whatever else the request says.
LURE_NAMES = ("tenant_id", "tenant", "tenantId", "TenantId", "tenantID", "tenant-id", "owner",
              "org", "organization", "account", "customer", "report_for", "for_tenant")
LURE_HEADERS = ("X-Tenant-Id", "X-Tenant", "Tenant-Id", "X-Tenant-ID", "X-Account-Id")
# Headers that differ between any two answers (a clock, a length that follows the body).
VARYING_HEADERS = frozenset({"date", "content-length"})

ACCEPT = ("answer POST /reports at once with 202 Accepted and a Location header that points at "
          "the job's status (/reports/<job id>); the work happens later, in the worker.")
ACCEPT_STORED = ("the job is a record in the table, in the caller's partition: every instance of "
                 "the service (and the worker, in another process) must find it; a dict in "
                 "memory dies with the process and is one per instance.")
NOT_FOUND = ("look the job up in the caller's own partition (TENANT#<tenant of the token> / "
             "REPORT#<job id>). Not there is 404, whoever else may own that id: 403 would tell "
             "the caller that the job exists.")
WORKER = ("the worker learns the tenant from the job the service queued (the tenant of the "
          "token that asked), never from what the client sent, and counts that tenant's ORDER# "
          "items only, with a Query.")


def expected_report(tenant_id: str) -> dict[str, int]:
    quantities = PLANTED[tenant_id]
    return {"orders": len(quantities), "quantity": sum(quantities)}


def lines(quantity: int) -> list[dict[str, Any]]:
    """An order's lines: two when the quantity splits, so a report must sum every line."""
    parts = [quantity] if quantity < 2 else [1, quantity - 1]
    return [{"product_id": f"p{n + 1}", "quantity": Decimal(part)} for n, part in enumerate(parts)]


def lure_of(tenant_id: str) -> dict[str, Any]:
    """Headers and query parameters that name ``tenant_id``: a service must ignore them all."""
    return {"headers": dict.fromkeys(LURE_HEADERS, tenant_id),
            "params": dict.fromkeys(LURE_NAMES, tenant_id)}


def planted_items() -> list[dict[str, Any]]:
    items = [{"pk": tenant_pk(tenant), "sk": order_sk(f"o{n}"), "order_id": f"o{n}",
              "tenant_id": tenant, "status": "placed",
              "items": lines(quantity)}
             for tenant, quantities in PLANTED.items() for n, quantity in enumerate(quantities)]
    # Not orders, in tenant-a's partition: a report counts orders, not everything it finds.
    items += [{"pk": tenant_pk("tenant-a"), "sk": product_sk(f"p{n}"), "product_id": f"p{n}",
               "name": "pump", "price_cents": Decimal(900)} for n in range(2)]
    return items


class Desk:
    """The report service with the learner's handlers, its worker, and what it was asked."""

    def __init__(self, t: Trial, scratch: ScratchTable, desk: ReportDesk, url: str,
                 worker: ReportWorker) -> None:
        self.t, self.scratch, self.desk, self.url, self.worker = t, scratch, desk, url, worker

    def ask(self, method: str, path_or_url: str, user: str | None,
            headers: dict[str, str] | None = None, **kwargs: Any) -> Reply:
        sent = dict(headers or {})
        if user:
            sent["Authorization"] = f"Bearer {self.t.lab.id_token(user)}"
        url = urljoin(self.url + "/", path_or_url)
        try:
            response = requests.request(method, url, headers=sent, timeout=self.t.timeout,
                                        allow_redirects=False, **kwargs)
        except requests.Timeout:
            self.t.expect(False, "an answer from the report service",
                          f"no answer within {self.t.timeout:g} s: does a handler hang?",
                          sent=f"{method} {url}")
        except requests.RequestException as error:
            self.t.expect(False, "an answer from the report service",
                          f"{type(error).__name__}: {short(str(error), 200)}",
                          sent=f"{method} {url}",
                          hint="the Location must point at this service: a path such as "
                               "/reports/<job id> (the client resolves it), or a URL built "
                               "from request.host_url, never a hard-coded host.")
        if response.status_code == 501:
            raise NotStarted(response.json().get("detail", ""))
        reply = Reply(response)
        reply.location = response.headers.get("Location")  # type: ignore[attr-defined]
        reply.headers = response.headers  # type: ignore[attr-defined]
        return reply

    def submit(self, user: str, body: dict[str, Any] | None = None,
               **lure: Any) -> tuple[Reply, str]:
        """POST /reports; the reply and the job's status URL (the case fails without one)."""
        reply = self.ask("POST", "/reports", user, json=body or {}, **lure)
        sent = f"POST /reports as {user}" + (f" with the body {short(body, 120)}" if body else "")
        self.t.expect(reply.status == 202, "202 Accepted", str(reply), hint=ACCEPT, sent=sent,
                      code_hint="return {'job_id': job_id, 'status': 'pending'}, 202, "
                                "{'Location': f'/reports/{job_id}'}")
        location = reply.location  # type: ignore[attr-defined]
        self.t.expect(bool(location), "a Location header with the job's status URL",
                      f"202 without Location: {reply.body}", hint=ACCEPT, sent=sent)
        return reply, urljoin(self.url + "/", location)

    def status(self, url: str, user: str) -> Reply:
        return self.ask("GET", url, user)

    def run_worker(self, build_report: Callable) -> int:
        def build(job: dict[str, Any], desk: ReportDesk) -> None:
            self.t.call(build_report, job, desk,
                        hint="the worker gets the job as the service queued it (a dict) and "
                             "the desk; it must not fail on a job of a tenant with no orders.")

        self.worker.build = build
        return self.worker.run(WORKER_STEPS)

    def done(self, url: str, user: str, tenant_id: str, sent: str) -> None:
        reply = self.status(url, user)
        want = expected_report(tenant_id)
        self.t.expect(reply.status == 200 and reply.body.get("status") == "done",
                      "200 with status 'done' once the worker ran", str(reply), sent=sent,
                      hint="the worker stores the result and status 'done' on the job's item; "
                           "the status resource reads that item.")
        result = reply.body.get("result")
        self.t.expect(result == want, f"result {want} ({tenant_id}'s orders)",
                      f"result {short(result)}", hint=WORKER, sent=sent,
                      code_hint="Query pk = TENANT#<job's tenant>, sk begins_with 'ORDER#' (all "
                                "pages); result = {'orders': count, 'quantity': sum of item "
                                "quantities}")


@exercise(
    "3.4", "asynchronous request-response (202 + status)",
    ("accept_report", "report_status", "build_report", "request_report"),
    hint="accept: store a pending job in the caller's partition, queue it, answer 202 with a "
         "Location. Status: the job from the caller's partition, or 404. Worker: the job's "
         "tenant from the queued job, the report from that tenant's orders. Client: poll the "
         "Location, wait() between polls, at most max_polls times, then TimeoutError.",
    code_hint="job_id = uuid.uuid4().hex; item key {'pk': f'TENANT#{ctx.tenant_id}', "
              "'sk': f'REPORT#{job_id}'}; message {'tenant_id': ctx.tenant_id, 'job_id': job_id}",
)
def check_async_jobs(accept_report, report_status, build_report, request_report,
                     t: Trial) -> None:
    lab = t.lab
    scratch = fresh_table(lab, "check-reports")
    scratch.put_many(planted_items())
    desk = ReportDesk(scratch.table, lab.client("sqs"), fresh_queue(lab, "check-report-jobs"))
    app = create_report_service(desk, tenant_resolver(lab.identity), accept_report,
                                report_status)
    with serve(app) as service:
        reports = Desk(t, scratch, desk, service.url, ReportWorker(desk, build_report))
        _service(t, reports, build_report, accept_report)
    _client(t, lab, desk, accept_report, report_status, build_report, request_report)


def _service(t: Trial, reports: Desk, build_report: Callable, accept_report: Callable) -> None:
    mark = reports.scratch.mark()
    with t.case("POST /reports as alice: 202 Accepted with a Location"):
        _, alice_job = reports.submit(ALICE)
    with t.case("the job is kept in the table (not in memory)"):
        job_id = _job_id(alice_job)
        kept = [f"{item['pk']} / {item['sk']}"
                for item in raw_items(reports.scratch.lab, reports.scratch.name)
                if job_id in str(item.get("sk", "")) or job_id == item.get("job_id")]
        t.expect(bool(kept),
                 f"an item {tenant_pk('tenant-a')} / {report_sk(job_id)} in desk.table",
                 f"items with the job's id: {kept or 'none'}", hint=ACCEPT_STORED,
                 sent="POST /reports as alice",
                 code_hint="desk.table.put_item(Item={'pk': f'TENANT#{ctx.tenant_id}', "
                           "'sk': f'REPORT#{job_id}', 'job_id': job_id, 'status': 'pending'})")
    with t.case("the status before the worker ran: 200, not done yet"):
        reply = reports.status(alice_job, ALICE)
        t.expect(reply.status == 200 and reply.body.get("status") not in (None, "done"),
                 "200 with a status such as 'pending'", str(reply),
                 sent=f"GET {urlparse(alice_job).path} as alice",
                 hint="the job exists from the moment it is accepted: its status says it is "
                      "not done yet ('pending'), and there is no result.")
    with t.case("an unknown job id: 404"):
        for path in ("/reports/0f1e2d3c4b5a69788796a5b4c3d2e1f0", "/reports/1"):
            reply = reports.status(path, ALICE)
            t.expect(reply.status == 404, "404 Not Found", str(reply), hint=NOT_FOUND,
                     sent=f"GET {path} as alice")
    with t.case("bob (tenant-b) asks for alice's job: 404, not 403"):
        reply = reports.ask("GET", alice_job, BOB, **lure_of("tenant-a"))
        t.expect(reply.status == 404, "404 Not Found", str(reply), hint=NOT_FOUND,
                 sent=f"GET {urlparse(alice_job).path} as bob (with X-Tenant-Id: tenant-a and "
                      "?tenant=tenant-a, which the token overrules)",
                 code_hint="item = desk.table.get_item(Key={'pk': f'TENANT#{ctx.tenant_id}', "
                           "'sk': f'REPORT#{job_id}'}).get('Item'); if item is None: return "
                           "{'error': 'not found'}, 404")
    with t.case("bob's 404 for alice's job says no more than his 404 for an unknown id"):
        same_as_unknown(t, reports, alice_job, BOB)
    with t.case("the status resource reads the caller's own job only (no Scan)"):
        calls = reports.scratch.calls_since(mark)
        stray = sorted(set(calls) - STATUS_CALLS)
        t.expect(not stray, "GetItem on the caller's key (or a Query of their partition)",
                 f"the account saw {dict(calls)}", hint=NOT_FOUND,
                 code_hint="desk.table.get_item(Key={'pk': f'TENANT#{ctx.tenant_id}', "
                           "'sk': f'REPORT#{job_id}'})")
    with t.case("job ids are not guessable (distinct, long, random)"):
        ids = [_job_id(alice_job)] + [_job_id(reports.submit(ALICE)[1]) for _ in range(3)]
        problem = guessable(ids) or made_twice(t, reports, accept_report)
        t.expect(not problem, "ids such as uuid4().hex", f"{ids}: {problem}",
                 hint="an id a caller can guess (a counter, a hash of a counter or of the "
                      "time, a seeded generator, a time-based uuid1) invites trying the "
                      "neighbours' ids; draw them from the operating system (uuid.uuid4(), "
                      "secrets.token_urlsafe(16)).")
    lure = {**dict.fromkeys(LURE_NAMES, "tenant-b"), "job_id": "chosen-by-the-client",
            "status": "done", "result": {"orders": 99, "quantity": 99},
            "pk": "TENANT#tenant-b", "sk": "REPORT#chosen-by-the-client"}
    with t.case("a request that names another tenant, a job id and a status (mass assignment)"):
        sent = (f"POST /reports as alice with {short(lure, 100)}, X-Tenant-Id: tenant-b and "
                "?tenant=tenant-b")
        lured = reports.submit(ALICE, lure, **lure_of("tenant-b"))[1]
        t.expect(_job_id(lured) != lure["job_id"], "a job id chosen by the service",
                 lured, sent=sent, hint="the service names the job; what the client sends "
                                        "is a parameter of the report at most, never its key.")
        reply = reports.status(lured, ALICE)
        t.expect(reply.status == 200 and reply.body.get("status") != "done",
                 "a pending job", str(reply), sent=sent,
                 hint="status and result are the service's to write, and the tenant is the "
                      "token's: build the job item from your own fields only, never from the "
                      "request's body, headers or query string.")
        for user in (BOB, TENANTS[1].users[1]):
            other = reports.status(lured, user)
            t.expect(other.status == 404, "404 for tenant-b's users", str(other), sent=sent,
                     hint=NOT_FOUND)
    _every_tenant(t, reports, build_report, lured, sent)


def same_as_unknown(t: Trial, reports: Desk, job_url: str, user: str) -> None:
    """``user``'s answer for someone else's job is the one for an id that never existed.

    The whole answer counts: status, body and headers. A value that differs between two asks
    for the same unknown id (a request id, a timestamp) is per-request and ignored.
    """
    job_id = _job_id(job_url)
    unknown_id = "".join(reversed(job_id))
    unknown = urljoin(job_url, unknown_id)
    theirs = reports.status(job_url, user)
    nobodys, again = reports.status(unknown, user), reports.status(unknown, user)
    problem = revealed(theirs, nobodys, again, job_id, unknown_id)
    t.expect(not problem, f"the same answer as for an unknown id: {nobodys}",
             f"{theirs}: {problem}",
             sent=f"GET {urlparse(job_url).path} and GET {urlparse(unknown).path} as {user}",
             hint="a 404 that says 'belongs to another tenant' (in its body or in a header such "
                  "as X-Owner or Location) confirms the job exists as surely as a 403: answer "
                  "exactly as for an id that never existed.")


def revealed(theirs: Reply, nobodys: Reply, again: Reply, job_id: str,
             unknown_id: str) -> str:
    """What the first answer says that the answers for an unknown id do not, or ''."""
    if theirs.status != nobodys.status:
        return f"status {theirs.status}, not {nobodys.status}"
    mine, other, other2 = (flat(theirs.body, job_id), flat(nobodys.body, unknown_id),
                           flat(again.body, unknown_id))
    if set(mine) != set(other):
        return f"the body's fields differ: {sorted(set(mine) ^ set(other))}"
    for key, value in mine.items():
        if other[key] == other2[key] and value != other[key]:
            return f"the body's {key} is {value!r}, not {other[key]!r}"
    headers = [{k.lower(): v.replace(i, "<id>") for k, v in r.headers.items()  # type: ignore
                if k.lower() not in VARYING_HEADERS}
               for r, i in ((theirs, job_id), (nobodys, unknown_id), (again, unknown_id))]
    if set(headers[0]) != set(headers[1]):
        return f"the headers differ: {sorted(set(headers[0]) ^ set(headers[1]))}"
    for key, value in headers[0].items():
        if headers[1][key] == headers[2][key] and value != headers[1][key]:
            return f"the header {key} is {value!r}, not {headers[1][key]!r}"
    return ""


def flat(body: Any, job_id: str, path: str = "body") -> dict[str, str]:
    """Every leaf of a JSON body by its path, with the asked-for id (or a prefix) blanked."""
    if isinstance(body, dict):
        return {k: v for key, value in body.items() for k, v in
                flat(value, job_id, f"{path}.{key}").items()}
    if isinstance(body, list):
        return {k: v for n, value in enumerate(body) for k, v in
                flat(value, job_id, f"{path}[{n}]").items()}
    text = repr(body)
    for end in range(len(job_id), 5, -1):  # the id, or the start of it, echoed back
        text = text.replace(job_id[:end], "<id>")
    return {path: text}


def _every_tenant(t: Trial, reports: Desk, build_report: Callable, lured: str,
                  lured_sent: str) -> None:
    with t.case("every tenant's report, worked off the queue by the worker"):
        jobs = [(tenant, tenant.users[0], reports.submit(tenant.users[0])[1])
                for tenant in TENANTS[1:]]
        mark = reports.scratch.mark()
        ran = reports.run_worker(build_report)
        calls = reports.scratch.calls_since(mark)
        t.expect(ran >= len(jobs), f"the worker ran the {len(jobs)} jobs and the earlier ones",
                 f"{ran} jobs ran", hint="accept_report must put each job on desk.queue_url "
                                         "(desk.sqs.send_message).")
        for tenant, user, url in jobs:
            reports.done(url, user, tenant.id, f"GET {urlparse(url).path} as {user}")
    with t.case("a finished job of another tenant: still 404, as for an unknown id"):
        finished = jobs[-1][2]  # tenant-d's, done
        same_as_unknown(t, reports, finished, BOB)
    with t.case("the worker reads the job's tenant partition only (a Query, no Scan)"):
        stray = sorted(set(calls) - WORKER_CALLS)
        t.expect(not stray, "Query and item reads and writes only",
                 f"the account saw {dict(calls)}", hint=WORKER)
        t.expect(not reports.scratch.observed or calls["Query"] > 0,
                 "a Query of each job's tenant partition", f"the account saw {dict(calls)}",
                 hint=WORKER + " Read through desk.table (the worker's own access), not "
                               "through another client.")
    with t.case("the lured job's report is alice's, in alice's partition"):
        reports.done(lured, ALICE, "tenant-a", lured_sent)
        marks = (_job_id(lured), "chosen-by-the-client")
        foreign = [f"{item['pk']} / {item['sk']}"
                   for item in raw_items(reports.scratch.lab, reports.scratch.name)
                   if item["pk"] != tenant_pk("tenant-a")
                   and any(mark in str(item.get(key, "")) for mark in marks
                           for key in ("pk", "sk", "job_id"))]
        t.expect(not foreign, "the job's item in alice's partition only", f"items {foreign}",
                 hint="the job's key comes from the token's tenant, never from the body.")


def made_twice(t: Trial, reports: Desk, accept_report: Callable) -> str:
    """Why accept_report's ids are made rather than drawn, or ''.

    Two clones of accept_report, from the same state and with the clock stopped, each accept
    one job (through the report service, in-process): a counter, a seeded generator or the
    clock gives both the same id. When a clone cannot run, the check does not judge here.
    """
    clones = twins(accept_report)
    if clones is None:
        return ""
    made = []
    token = t.lab.id_token(ALICE)
    for twin in clones:
        app = create_report_service(reports.desk, tenant_resolver(t.lab.identity), twin,
                                    lambda ctx, job_id, desk: ({}, 404))
        answer = app.test_client().post("/reports", json={},
                                        headers={"Authorization": f"Bearer {token}"})
        location = answer.headers.get("Location")
        if answer.status_code != 202 or not location:
            return ""
        made.append(_job_id(location))
    if made[0] == made[1]:
        return (f"started twice from the same state (and the same moment), accept_report made "
                f"the same id {made[0]!r}: it comes from a counter, a seed or the clock")
    return ""


def _job_id(url: str) -> str:
    return urlparse(url).path.rstrip("/").rsplit("/", 1)[-1]


def guessable(ids: list[str]) -> str:
    """Why a list of job ids looks guessable, or '' (distinct, >= 16 characters, and any two
    differ in most positions, which counters, timestamps and uuid1 do not)."""
    if len(set(ids)) != len(ids):
        return "the same id twice"
    short_ids = [i for i in ids if len(i) < 16]  # token_urlsafe(12) has 16, uuid4 32
    if short_ids:
        return f"{short_ids[0]!r} is short: a few guesses find it"
    for n, first in enumerate(ids):
        for second in ids[n + 1:]:
            length = min(len(first), len(second))
            same = sum(a == b for a, b in zip(first, second, strict=False))
            if same > length // 2:
                return f"{first!r} and {second!r} share {same} of {length} characters"
    return ""


class Waiter:
    """The ``wait`` handed to the learner's client: each call may move the worker one job."""

    def __init__(self, worker: ReportWorker | None, after: int,
                 action: Callable[[], None] | None = None) -> None:
        self.worker, self.after, self.calls, self.action = worker, after, 0, action

    def __call__(self) -> None:
        self.calls += 1
        if self.calls > MAX_WAITS:
            raise RuntimeError(f"wait() was called {MAX_WAITS} times: a poll loop needs a "
                               "bound (max_polls)")
        if self.worker is not None and self.calls >= self.after:
            self.worker.run(1)
        if self.action is not None:
            self.action()


def _client(t: Trial, lab: Any, desk: ReportDesk, accept_report: Callable,
            report_status: Callable, build_report: Callable, request_report: Callable) -> None:
    polls: Counter[str] = Counter()
    busy: list[int] = []  # [max_polls] while the status resource answers 503 and 429

    def accept_elsewhere(ctx: TenantContext, body: dict[str, Any], d: ReportDesk) -> Any:
        response = make_response(accept_report(ctx, body, d))
        job_id = _job_id(response.headers.get("Location", ""))
        response.headers["Location"] = f"{request.host_url}v2/report-jobs/{job_id}"
        return response

    def counted_status(ctx: TenantContext, job_id: str, d: ReportDesk) -> Any:
        polls[job_id] += 1
        if busy:  # overloaded; after a few more polls than allowed, 404 ends a loop for sure
            if polls[job_id] > busy[0] + 3:
                return {"error": "not found"}, 404
            if polls[job_id] % 3 == 0:  # accepted, not done: a poll like any other
                return {"job_id": job_id, "status": "pending"}, 202, {"Retry-After": "1"}
            code = 503 if polls[job_id] % 3 == 1 else 429
            return {"error": "busy, try again later"}, code, {"Retry-After": "1"}
        return report_status(ctx, job_id, d)

    app = create_report_service(desk, tenant_resolver(lab.identity), accept_elsewhere,
                                counted_status, status_route="/v2/report-jobs/<job_id>")
    worker = ReportWorker(desk, build_report)
    carol = TENANTS[2].users[0]
    dave = TENANTS[3].users[0]
    with serve(app) as service:
        with t.case("request_report follows the Location (absolute, on another path) until "
                    "done"):
            wait = Waiter(worker, after=3)
            result = t.call(request_report, service.url, lab.id_token(dave), wait, 10,
                            hint="POST, then GET the URL in the Location header (resolve it "
                                 "against the service URL: it may be absolute or relative), "
                                 "until the status is 'done'; return the job's result.")
            want = expected_report("tenant-d")
            t.expect(result == want, f"the report {want}", short(result),
                     sent="request_report(url, dave's token, wait, max_polls=10)",
                     hint="return the result of the job once its status is 'done'.")
            polled = sum(polls.values())
            t.expect(polled <= wait.calls + 1, "one poll per wait()",
                     f"{polled} polls for {wait.calls} waits",
                     hint="call wait() between two polls: without it the loop hammers the "
                          "service (and, in this check, the worker never gets a turn).")
        with t.case("a job that never finishes: TimeoutError after max_polls polls"):
            polls.clear()
            wait = Waiter(None, after=0)
            t.rejects(request_report, service.url, lab.id_token(carol), wait, 4,
                      accept=(TimeoutError,), sent="request_report(..., max_polls=4) for a job "
                                                  "the worker never runs",
                      hint="a poll loop has a bound: after max_polls polls that were not done, "
                           "raise TimeoutError (the caller decides what to do next).",
                      code_hint="for _ in range(max_polls): ... ; raise TimeoutError(...)")
            polled = sum(polls.values())
            t.expect(1 <= polled <= 4, "at most max_polls (4) polls", f"{polled} polls",
                     hint="count the polls, not the waits: max_polls is how many GETs.")
        with t.case("the job disappears while polling (404): raise, do not poll on"):
            polls.clear()

            def forget_the_job() -> None:
                for job_id in polls:
                    desk.table.delete_item(Key={"pk": tenant_pk("tenant-b"),
                                                "sk": report_sk(job_id)})

            gone = Waiter(None, after=0, action=forget_the_job)
            t.rejects(request_report, service.url, lab.id_token(BOB), gone, 6, accept=REFUSALS,
                      sent="request_report(..., max_polls=6); after the first poll the job is "
                           "gone, and its status answers 404",
                      hint="only a 200 whose status is not 'done' means 'not yet'; a 404 (or "
                           "any other error) is an answer: raise (response.raise_for_status()).")
            t.expect(sum(polls.values()) <= 2, "no polls after the 404",
                     f"{sum(polls.values())} polls", hint="stop at the first 404.")
        with t.case("a refused request (401) raises, it is not a report"):
            polls.clear()
            t.rejects(request_report, service.url, "not-a-token", Waiter(None, 0), 3,
                      accept=REFUSALS, sent="request_report with a token the service refuses",
                      hint="check each answer's status (response.raise_for_status()): a 401 "
                           "is an error to raise, not a job to poll or a result to return.")
            t.expect(sum(polls.values()) == 0, "no polls after a refused POST",
                     f"{sum(polls.values())} polls", hint="stop at the first refusal.")
        with t.case("the job failed: raise, it is not a report"):
            polls.clear()

            def fail_the_job() -> None:
                for job_id in polls:
                    desk.table.update_item(Key={"pk": tenant_pk("tenant-c"),
                                                "sk": report_sk(job_id)},
                                           UpdateExpression="SET #s = :failed",
                                           ExpressionAttributeNames={"#s": "status"},
                                           ExpressionAttributeValues={":failed": "failed"})

            t.rejects(request_report, service.url, lab.id_token(carol),
                      Waiter(None, after=0, action=fail_the_job), 6, accept=REFUSALS,
                      sent="request_report(..., max_polls=6); after the first poll the job's "
                           "status is 'failed'",
                      hint="only 'done' carries a report; 'failed' will never be done: raise "
                           "(at once, or at the latest when max_polls runs out), never return "
                           "None or the failed job as a report.",
                      code_hint="if job['status'] == 'failed': raise RuntimeError(...)")
        with t.case("the status answers 503, 429 and 202 (Retry-After): at most max_polls "
                    "polls"):
            polls.clear()
            busy.append(4)
            try:
                t.rejects(request_report, service.url, lab.id_token(carol), Waiter(None, 0), 4,
                          accept=REFUSALS,
                          sent="request_report(..., max_polls=4); the polls answer 503, 429 "
                               "and 202 (pending), with Retry-After: 1",
                          hint="an overloaded service is an error to raise "
                               "(raise_for_status()), or a poll to count and wait() after; "
                               "never a loop that retries without a bound.")
            finally:
                busy.clear()
            polled = sum(polls.values())
            t.expect(1 <= polled <= 4, "at most max_polls (4) polls", f"{polled} polls",
                     hint="every GET counts against max_polls, whatever it answered, and "
                          "each retry waits (wait()).")
