"""Checks 3.4 and 3.5 pass on the solution and its benign variants, and catch each wrong one.

The solution functions come from solutions/03-service-to-service.ipynb itself. Each mutant is
one realistic bug of asynchronous request-response (a status resource keyed by job id only, 403
for another tenant's job, 200 instead of 202, guessable ids, mass assignment, a worker that
Scans, a client that polls forever) or of scatter-gather (no correlation filter, a deadline
overshot, duplicates, a malformed reply that ends the gather, one receive per poll, a reused
correlation id); the row names the case that must catch it.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import random
import secrets
import time
import uuid
from urllib.parse import urljoin

import pytest
import requests
from boto3.dynamodb.conditions import Attr
from flask import request as flask_request
from mutants import assert_accepted, assert_caught

from checks import run
from checks.lab03.async_jobs import guessable
from checks.notebook_code import namespace, solution_path
from environment.app.suppliers import ClockMisuse, Market, SimulatedClock


@pytest.fixture(scope="module")
def solution(lab):
    return namespace(solution_path(3))


@pytest.mark.parametrize("exercise", ["3.4", "3.5"])
def test_the_solution_passes(solution, exercise):
    functions = {"3.4": ("accept_report", "report_status", "build_report", "request_report"),
                 "3.5": ("gather_quotes",)}[exercise]
    outcome = run(exercise, *(solution[name] for name in functions))
    assert outcome.passed, outcome.message
    assert outcome.cases >= 8 and not outcome.skipped, outcome.skipped


# --- 3.4 asynchronous request-response -----------------------------------------------------------


def report_functions(s, **changes):
    names = ("accept_report", "report_status", "build_report", "request_report")
    return tuple(changes.get(name, s[name]) for name in names)


def report_mutants(s):
    job_key, build = s["job_key"], s["build_report"]

    def accepting(status=202, location=True, new_id=lambda: uuid.uuid4().hex, item=None,
                  message=None, inline=False, queue=True):
        def accept_report(ctx, body, desk):
            job_id = new_id()
            job = {**job_key(ctx.tenant_id, job_id), "job_id": job_id, "status": "pending"}
            desk.table.put_item(Item=item(job, body) if item else job)
            queued = {"tenant_id": ctx.tenant_id, "job_id": job_id}
            queued = message(queued, body) if message else queued
            if inline:
                build(queued, desk)
            elif queue:
                desk.sqs.send_message(QueueUrl=desk.queue_url, MessageBody=json.dumps(queued))
            headers = {"Location": f"/reports/{job_id}"} if location else {}
            return {"job_id": job_id, "status": "pending"}, status, headers
        return accept_report

    def keyed_by_id(ctx, body, desk):
        job_id = uuid.uuid4().hex
        desk.table.put_item(Item={"pk": f"REPORT#{job_id}", "sk": "JOB", "job_id": job_id,
                                  "tenant_id": ctx.tenant_id, "status": "pending"})
        desk.sqs.send_message(QueueUrl=desk.queue_url, MessageBody=json.dumps(
            {"tenant_id": ctx.tenant_id, "job_id": job_id}))
        return {"job_id": job_id}, 202, {"Location": f"/reports/{job_id}"}

    def status_by_id(ctx, job_id, desk):
        job = desk.table.get_item(Key={"pk": f"REPORT#{job_id}", "sk": "JOB"}).get("Item")
        if job is None:
            return {"error": "not found"}, 404
        return {k: job[k] for k in ("job_id", "status", "result") if k in job}, 200

    def build_by_id(job, desk):
        build(job, desk)  # the result goes to the tenant's partition ...
        stored = desk.table.get_item(Key=job_key(job["tenant_id"], job["job_id"]))["Item"]
        desk.table.update_item(Key={"pk": f"REPORT#{job['job_id']}", "sk": "JOB"},
                               UpdateExpression="SET #s = :s, #r = :r",
                               ExpressionAttributeNames={"#s": "status", "#r": "result"},
                               ExpressionAttributeValues={":s": "done", ":r": stored["result"]})

    def scanning_status(forbidden):
        def report_status(ctx, job_id, desk):
            found = desk.table.scan(FilterExpression=Attr("job_id").eq(job_id))["Items"]
            if not found:
                return {"error": "not found"}, 404
            if forbidden and found[0]["pk"] != f"TENANT#{ctx.tenant_id}":
                return {"error": "forbidden"}, 403
            return {k: found[0][k] for k in ("job_id", "status", "result") if k in found[0]}, 200
        return report_status

    def telling_404(ctx, job_id, desk):
        found = desk.table.scan(FilterExpression=Attr("job_id").eq(job_id))["Items"]
        if found and found[0]["pk"] != f"TENANT#{ctx.tenant_id}":
            return {"error": "not found", "detail": "the job belongs to another tenant"}, 404
        return s["report_status"](ctx, job_id, desk)

    def crashing_status(ctx, job_id, desk):
        job = desk.table.get_item(Key=job_key(ctx.tenant_id, job_id))["Item"]
        return {k: job[k] for k in ("job_id", "status", "result") if k in job}, 200

    def unknown_is_200(ctx, job_id, desk):
        job = desk.table.get_item(Key=job_key(ctx.tenant_id, job_id)).get("Item")
        if job is None:
            return {"job_id": job_id, "status": "unknown"}, 200
        return {k: job[k] for k in ("job_id", "status", "result") if k in job}, 200

    counter = itertools.count(1)
    hashed_counter, named_counter = itertools.count(1), itertools.count(1)
    seeded = random.Random(42)

    def scan_with_filter(job, desk):
        items = desk.table.scan(FilterExpression=Attr("tenant_id").eq(job["tenant_id"])
                                & Attr("sk").begins_with("ORDER#"))["Items"]
        result = {"orders": len(items),
                  "quantity": sum(int(line["quantity"]) for o in items for line in o["items"])}
        desk.table.update_item(Key=job_key(job["tenant_id"], job["job_id"]),
                               UpdateExpression="SET #s = :s, #r = :r",
                               ExpressionAttributeNames={"#s": "status", "#r": "result"},
                               ExpressionAttributeValues={":s": "done", ":r": result})

    def whole_partition(job, desk):
        from boto3.dynamodb.conditions import Key
        items = desk.table.query(
            KeyConditionExpression=Key("pk").eq(f"TENANT#{job['tenant_id']}"))["Items"]
        result = {"orders": len(items), "quantity": sum(
            int(line["quantity"]) for o in items for line in o.get("items", []))}
        desk.table.update_item(Key=job_key(job["tenant_id"], job["job_id"]),
                               UpdateExpression="SET #s = :s, #r = :r",
                               ExpressionAttributeNames={"#s": "status", "#r": "result"},
                               ExpressionAttributeValues={":s": "done", ":r": result})

    def client(wait_between=True, bounded=True, follow=True, join=True, check_status=True,
               give_up=True, poll_on_404=False):
        def request_report(service_url, token, wait, max_polls=20):
            headers = {"Authorization": f"Bearer {token}"}
            accepted = requests.post(f"{service_url}/reports", json={}, headers=headers,
                                     timeout=10)
            if check_status:
                accepted.raise_for_status()
            elif accepted.status_code != 202:
                return accepted.json()
            if follow:
                location = accepted.headers["Location"]
                url = urljoin(service_url + "/", location) if join else service_url + location
            else:
                url = f"{service_url}/reports/{accepted.json()['job_id']}"
            polls = range(max_polls) if bounded else itertools.count()
            for _ in polls:
                answer = requests.get(url, headers=headers, timeout=10)
                if poll_on_404 and answer.status_code == 404:
                    wait()
                    continue
                answer.raise_for_status()
                if answer.json()["status"] == "done":
                    return answer.json()["result"]
                if answer.json()["status"] == "failed":
                    raise RuntimeError("the report failed")
                if wait_between:
                    wait()
            if give_up:
                raise TimeoutError("not done")
            return answer.json()
        return request_report

    done_by_id = {}

    def build_and_cache(job, desk):
        build(job, desk)
        item = desk.table.get_item(Key=job_key(job["tenant_id"], job["job_id"]))["Item"]
        done_by_id[job["job_id"]] = {"job_id": job["job_id"], "status": "done",
                                     "result": item["result"]}

    def status_from_cache(ctx, job_id, desk):
        if job_id in done_by_id:
            return done_by_id[job_id], 200
        return s["report_status"](ctx, job_id, desk)

    def scanning_own(prefix):
        def report_status(ctx, job_id, desk):
            mine = (Attr("pk").begins_with(f"TENANT#{ctx.tenant_id}") if prefix
                    else Attr("pk").eq(f"TENANT#{ctx.tenant_id}"))
            found = desk.table.scan(FilterExpression=Attr("job_id").eq(job_id) & mine)["Items"]
            if not found:
                return {"error": "not found"}, 404
            return {k: found[0][k] for k in ("job_id", "status", "result") if k in found[0]}, 200
        return report_status

    def owner_in_header(name):
        def report_status(ctx, job_id, desk):
            answer = s["report_status"](ctx, job_id, desk)
            if answer[1] == 404:
                found = desk.table.scan(FilterExpression=Attr("job_id").eq(job_id))["Items"]
                if found:
                    return (*answer, {name: f"/tenants/{found[0]['pk'][7:]}/reports/{job_id}"})
            return answer
        return report_status

    def report_for(job, desk):  # the worker reports on whatever tenant the message names
        build({**job, "tenant_id": job.get("report_for", job["tenant_id"])}, desk)
        if job.get("report_for", job["tenant_id"]) != job["tenant_id"]:
            stored = desk.table.get_item(
                Key=job_key(job["report_for"], job["job_id"]))["Item"]
            desk.table.update_item(Key=job_key(job["tenant_id"], job["job_id"]),
                                   UpdateExpression="SET #s = :s, #r = :r",
                                   ExpressionAttributeNames={"#s": "status", "#r": "result"},
                                   ExpressionAttributeValues={":s": "done",
                                                              ":r": stored["result"]})

    def status_for_header(ctx, job_id, desk):
        tenant = (flask_request.headers.get("X-Tenant-Id")
                  or flask_request.args.get("tenant") or ctx.tenant_id)
        job = desk.table.get_item(Key=job_key(tenant, job_id)).get("Item")
        if job is None:
            return {"error": "not found"}, 404
        return {k: job[k] for k in ("job_id", "status", "result") if k in job}, 200

    def accept_for_header(ctx, body, desk):
        tenant = flask_request.headers.get("X-Tenant-Id", ctx.tenant_id)
        return s["accept_report"](type(ctx)(tenant, ctx.tier, ctx.user), body, desk)

    def scan_elsewhere(job, desk):  # another client: the worker's own access never sees it
        raw = s["lab"].client("dynamodb").scan(TableName=desk.table.name)["Items"]
        mine = [i for i in raw if i["pk"]["S"] == f"TENANT#{job['tenant_id']}"
                and i["sk"]["S"].startswith("ORDER#")]
        result = {"orders": len(mine), "quantity": sum(
            int(line["M"]["quantity"]["N"]) for o in mine for line in o["items"]["L"])}
        desk.table.update_item(Key=job_key(job["tenant_id"], job["job_id"]),
                               UpdateExpression="SET #s = :s, #r = :r",
                               ExpressionAttributeNames={"#s": "status", "#r": "result"},
                               ExpressionAttributeValues={":s": "done", ":r": result})

    def first_line_only(job, desk):
        from boto3.dynamodb.conditions import Key
        items = desk.table.query(KeyConditionExpression=Key("pk").eq(f"TENANT#{job['tenant_id']}")
                                 & Key("sk").begins_with("ORDER#"))["Items"]
        result = {"orders": len(items),
                  "quantity": sum(int(o["items"][0]["quantity"]) for o in items)}
        desk.table.update_item(Key=job_key(job["tenant_id"], job["job_id"]),
                               UpdateExpression="SET #s = :s, #r = :r",
                               ExpressionAttributeNames={"#s": "status", "#r": "result"},
                               ExpressionAttributeValues={":s": "done", ":r": result})

    def retrying_forever(service_url, token, wait, max_polls=20):
        headers = {"Authorization": f"Bearer {token}"}
        accepted = requests.post(f"{service_url}/reports", json={}, headers=headers, timeout=10)
        accepted.raise_for_status()
        url = urljoin(service_url + "/", accepted.headers["Location"])
        polls = 0
        while polls < max_polls:
            answer = requests.get(url, headers=headers, timeout=10)
            if answer.status_code >= 500 or answer.status_code in (202, 429):
                continue  # "transient": neither counted nor waited for
            answer.raise_for_status()
            polls += 1
            if answer.json()["status"] == "done":
                return answer.json()["result"]
            if answer.json()["status"] == "failed":
                raise RuntimeError("failed")
            wait()
        raise TimeoutError("not done")

    def any_final(service_url, token, wait, max_polls=20):
        headers = {"Authorization": f"Bearer {token}"}
        accepted = requests.post(f"{service_url}/reports", json={}, headers=headers, timeout=10)
        accepted.raise_for_status()
        url = urljoin(service_url + "/", accepted.headers["Location"])
        for _ in range(max_polls):
            answer = requests.get(url, headers=headers, timeout=10)
            answer.raise_for_status()
            if answer.json()["status"] != "pending":
                return answer.json().get("result")
            wait()
        raise TimeoutError("not done")

    def one_poll_too_many(service_url, token, wait, max_polls=20):
        return s["request_report"](service_url, token, wait, max_polls + 1)

    def localhost_location(ctx, body, desk):
        answer, code, headers = s["accept_report"](ctx, body, desk)
        return answer, code, {"Location": f"http://localhost:8000{headers['Location']}"}

    jobs_in_memory = {}

    def accept_in_memory(ctx, body, desk):
        job_id = uuid.uuid4().hex
        jobs_in_memory[job_id] = {"tenant": ctx.tenant_id, "job_id": job_id, "status": "pending"}
        desk.sqs.send_message(QueueUrl=desk.queue_url, MessageBody=json.dumps(
            {"tenant_id": ctx.tenant_id, "job_id": job_id}))
        return {"job_id": job_id, "status": "pending"}, 202, {"Location": f"/reports/{job_id}"}

    def status_in_memory(ctx, job_id, desk):
        job = jobs_in_memory.get(job_id)
        if not job or job["tenant"] != ctx.tenant_id:
            return {"error": "not found"}, 404
        return {k: job[k] for k in ("job_id", "status", "result") if k in job}, 200

    f = report_functions
    return [
        ("3.4", "keeps the jobs in a dict in memory",
         f(s, accept_report=accept_in_memory, report_status=status_in_memory),
         "the job is kept in the table"),
        ("3.4", "answers 200 instead of 202", f(s, accept_report=accepting(status=200)),
         "202 Accepted with a Location"),
        ("3.4", "answers 202 without a Location", f(s, accept_report=accepting(location=False)),
         "202 Accepted with a Location"),
        ("3.4", "does the work before answering (done at once)",
         f(s, accept_report=accepting(inline=True)), "the status before the worker ran"),
        ("3.4", "keys the job by its id only",
         f(s, accept_report=keyed_by_id, report_status=status_by_id, build_report=build_by_id),
         "bob (tenant-b) asks for alice's job"),
        ("3.4", "finds the job by id with a Scan and answers 403 for another tenant's",
         f(s, report_status=scanning_status(forbidden=True)),
         "bob (tenant-b) asks for alice's job"),
        ("3.4", "finds the job by id with a Scan, whoever asks",
         f(s, report_status=scanning_status(forbidden=False)),
         "bob (tenant-b) asks for alice's job"),
        ("3.4", "a 404 whose body says the job is another tenant's",
         f(s, report_status=telling_404), "says no more than his 404 for an unknown id"),
        ("3.4", "the client polls on through a 404 (as if not ready yet)",
         f(s, request_report=client(poll_on_404=True)), "the job disappears while polling"),
        ("3.4", "crashes (500) on an unknown id", f(s, report_status=crashing_status),
         "an unknown job id"),
        ("3.4", "answers 200 'unknown' for an unknown id", f(s, report_status=unknown_is_200),
         "an unknown job id"),
        ("3.4", "sequential job ids",
         f(s, accept_report=accepting(new_id=lambda: f"{next(counter):020d}")),
         "job ids are not guessable"),
        ("3.4", "time-based uuid1 job ids",
         f(s, accept_report=accepting(new_id=lambda: uuid.uuid1().hex)),
         "job ids are not guessable"),
        ("3.4", "job ids: sha256 of a counter",
         f(s, accept_report=accepting(new_id=lambda: hashlib.sha256(
             str(next(hashed_counter)).encode()).hexdigest())), "job ids are not guessable"),
        ("3.4", "job ids: sha256 of the time",
         f(s, accept_report=accepting(new_id=lambda: hashlib.sha256(
             str(time.time()).encode()).hexdigest())), "job ids are not guessable"),
        ("3.4", "job ids: a uuid from random.Random(42)",
         f(s, accept_report=accepting(new_id=lambda: uuid.UUID(
             int=seeded.getrandbits(128), version=4).hex)), "job ids are not guessable"),
        ("3.4", "job ids: uuid5 of a counter",
         f(s, accept_report=accepting(new_id=lambda: uuid.uuid5(
             uuid.NAMESPACE_URL, f"report:{next(named_counter)}").hex)),
         "job ids are not guessable"),
        ("3.4", "merges the request body into the job item",
         f(s, accept_report=accepting(item=lambda job, body: {**job, **body})),
         "names another tenant, a job id and a status"),
        ("3.4", "queues the client's body with the job (the worker reads its tenant)",
         f(s, accept_report=accepting(message=lambda queued, body: {**queued, **body})),
         "the lured job's report is alice's"),
        ("3.4", "the worker Scans with a tenant filter", f(s, build_report=scan_with_filter),
         "the worker reads the job's tenant partition only"),
        ("3.4", "the worker counts every item of the partition (jobs too)",
         f(s, build_report=whole_partition), "every tenant's report"),
        ("3.4", "the client never waits between polls",
         f(s, request_report=client(wait_between=False)), "request_report follows the Location"),
        ("3.4", "the client builds the status path from the job id",
         f(s, request_report=client(follow=False)), "request_report follows the Location"),
        ("3.4", "the client glues the Location to the service URL",
         f(s, request_report=client(join=False)), "request_report follows the Location"),
        ("3.4", "the client polls forever", f(s, request_report=client(bounded=False)),
         "a job that never finishes"),
        ("3.4", "accepts the job and never queues it", f(s, accept_report=accepting(queue=False)),
         "every tenant's report"),
        ("3.4", "the client returns the pending status after max_polls",
         f(s, request_report=client(give_up=False)), "a job that never finishes"),
        ("3.4", "the client returns a refusal as the report",
         f(s, request_report=client(check_status=False)), "a refused request (401) raises"),
        ("3.4", "caches finished reports in memory by job id",
         f(s, report_status=status_from_cache, build_report=build_and_cache),
         "a finished job of another tenant"),
        ("3.4", "the status Scans for the job id, pk by prefix",
         f(s, report_status=scanning_own(prefix=True)), "the status resource reads"),
        ("3.4", "the status Scans for the job id and the caller's pk",
         f(s, report_status=scanning_own(prefix=False)), "the status resource reads"),
        ("3.4", "a 404 with a header that names the owner",
         f(s, report_status=owner_in_header("X-Owner")), "says no more than his 404"),
        ("3.4", "a 404 with a Location of the owner's job",
         f(s, report_status=owner_in_header("Location")), "says no more than his 404"),
        ("3.4", "the body's tenantId picks the tenant the worker reports on",
         f(s, accept_report=accepting(message=lambda queued, body: {
             **queued, "report_for": body.get("tenantId", queued["tenant_id"])}),
           build_report=report_for), "the lured job's report is alice's"),
        ("3.4", "an X-Tenant-Id header or ?tenant= overrides the token on the status",
         f(s, report_status=status_for_header), "bob (tenant-b) asks for alice's job"),
        ("3.4", "an X-Tenant-Id header overrides the token on POST",
         f(s, accept_report=accept_for_header), "names another tenant, a job id and a status"),
        ("3.4", "the worker Scans through another client", f(s, build_report=scan_elsewhere),
         "the worker reads the job's tenant partition only"),
        ("3.4", "the worker counts the first line of each order",
         f(s, build_report=first_line_only), "every tenant's report"),
        ("3.4", "the client retries 503/429 without counting or waiting",
         f(s, request_report=retrying_forever), "the status answers 503, 429 and 202"),
        ("3.4", "the client polls max_polls + 1 times",
         f(s, request_report=one_poll_too_many), "a job that never finishes"),
        ("3.4", "the client returns the result of any status but pending (None)",
         f(s, request_report=any_final), "the job failed"),
        ("3.4", "a Location on a hard-coded host", f(s, accept_report=localhost_location),
         "the status before the worker ran"),
    ]


def report_benign(s):
    job_key = s["job_key"]
    accept, status, build = s["accept_report"], s["report_status"], s["build_report"]

    def absolute_token_urlsafe(ctx, body, desk):
        job_id = secrets.token_urlsafe(18)
        desk.table.put_item(Item={**job_key(ctx.tenant_id, job_id), "job_id": job_id,
                                  "status": "queued", "requested": body})
        desk.sqs.send_message(QueueUrl=desk.queue_url, MessageBody=json.dumps(
            {"job_id": job_id, "tenant_id": ctx.tenant_id}))
        location = urljoin(flask_request.host_url, f"reports/{job_id}")
        return {"job_id": job_id}, 202, {"Location": location, "Retry-After": "1"}

    def status_with_message(ctx, job_id, desk):
        answer, code = status(ctx, job_id, desk)
        return ({"message": "no such report"}, 404) if code == 404 else (answer, code)

    def build_with_put(job, desk):
        build(job, desk)
        item = desk.table.get_item(Key=job_key(job["tenant_id"], job["job_id"]))["Item"]
        desk.table.put_item(Item={**item, "finished": True})

    def while_client(service_url, token, wait, max_polls=20):
        with requests.Session() as http:
            http.headers["Authorization"] = f"Bearer {token}"
            accepted = http.post(f"{service_url}/reports", timeout=10)
            if accepted.status_code != 202:
                raise RuntimeError(f"not accepted: {accepted.status_code}")
            url = urljoin(f"{service_url}/", accepted.headers["Location"])
            polls = 0
            while polls < max_polls:
                polls += 1
                job = http.get(url, timeout=10)
                job.raise_for_status()
                if job.json().get("status") == "done":
                    return job.json()["result"]
                if job.json().get("status") == "failed":
                    raise RuntimeError(f"failed: {job.json()}")
                if polls < max_polls:
                    wait()
            raise TimeoutError(url)

    def short_token_ids(ctx, body, desk):  # 96 random bits in 16 characters
        job_id = secrets.token_urlsafe(12)
        desk.table.put_item(Item={**job_key(ctx.tenant_id, job_id), "job_id": job_id,
                                  "status": "pending"})
        desk.sqs.send_message(QueueUrl=desk.queue_url, MessageBody=json.dumps(
            {"job_id": job_id, "tenant_id": ctx.tenant_id}))
        return {"job_id": job_id}, 202, {"Location": f"/reports/{job_id}"}

    def status_with_request_id(ctx, job_id, desk):
        answer = status(ctx, job_id, desk)
        if answer[1] == 404:
            return ({"error": "not found", "request_id": str(uuid.uuid4())}, 404,
                    {"X-Request-Id": uuid.uuid4().hex})
        return answer

    def status_echoing_the_id(ctx, job_id, desk):
        answer = status(ctx, job_id, desk)
        return ({"error": f"no report {job_id[:8]}..."}, 404) if answer[1] == 404 else answer

    class ReportFailed(Exception):
        pass

    def own_exception_client(service_url, token, wait, max_polls=20):
        headers = {"Authorization": f"Bearer {token}"}
        accepted = requests.post(f"{service_url}/reports", json={}, headers=headers, timeout=10)
        if accepted.status_code != 202:
            raise ReportFailed(f"refused: {accepted.status_code}")
        url = urljoin(service_url + "/", accepted.headers["Location"])
        for _ in range(max_polls):
            answer = requests.get(url, headers=headers, timeout=10)
            if answer.status_code != 200 or answer.json()["status"] == "failed":
                raise ReportFailed(f"status {answer.status_code}")
            if answer.json()["status"] == "done":
                return answer.json()["result"]
            wait()
        raise TimeoutError("not done")

    def retrying_client(service_url, token, wait, max_polls=20):  # busy is "not yet"
        headers = {"Authorization": f"Bearer {token}"}
        accepted = requests.post(f"{service_url}/reports", json={}, headers=headers, timeout=10)
        accepted.raise_for_status()
        url = urljoin(service_url + "/", accepted.headers["Location"])
        for _ in range(max_polls):
            answer = requests.get(url, headers=headers, timeout=10)
            if answer.status_code in (202, 429, 503):
                wait()
                continue
            answer.raise_for_status()
            job = answer.json()
            if job["status"] in ("done", "failed"):
                if job["status"] == "failed":
                    raise RuntimeError(job)
                return job["result"]
            wait()
        raise TimeoutError(url)

    return [("3.4", accept, status, build, retrying_client),
            ("3.4", absolute_token_urlsafe, status_with_message, build_with_put, while_client),
            ("3.4", accept, status, build, while_client),
            ("3.4", short_token_ids, status_with_request_id, build, own_exception_client),
            ("3.4", accept, status_echoing_the_id, build, s["request_report"])]


# --- 3.5 scatter-gather --------------------------------------------------------------------------


def aggregator(correlation=lambda: str(uuid.uuid4()), reply_to=None, suppliers=None,
               id_in_body=False, attribute_names=("All",), json_only=False,
               filter_ids=True, dedupe=True, safe=True, drain=True, batch=10, final_read=True,
               step=0.25, deadline_of=None, early=None, delete=True, now=None, enough=None,
               count_messages=False, keep_last=False, coerce=False, max_reads=None, wait_s=0,
               margin=0.0, rewind=False, wall_sleep=False):
    """The solution's aggregator with one thing changed (or written differently)."""

    def gather_quotes(item, market, deadline_s):
        sqs, clock, replies = market.sqs, market.clock, market.reply_queue
        correlation_id = (correlation(item) if id_in_body == "item" else
                          correlation(item, market.clock.now()) if id_in_body == "time"
                          else correlation())
        queues = list(market.supplier_queues.values())
        for url in queues[:suppliers]:
            attributes = {"CorrelationId": {"DataType": "String", "StringValue": correlation_id}}
            if reply_to != "none":
                attributes["ReplyTo"] = {"DataType": "String",
                                         "StringValue": reply_to(market) if reply_to else replies}
            sqs.send_message(QueueUrl=url, MessageBody=json.dumps({"item": item}),
                             MessageAttributes=attributes)
        clock_now = now or clock.now
        deadline = clock_now() + (deadline_of(deadline_s) if deadline_of else deadline_s)
        quotes, kept, counted = {}, [], []

        def read():
            reads = 0
            while max_reads is None or reads < max_reads:
                reads += 1
                got = sqs.receive_message(QueueUrl=replies, MaxNumberOfMessages=batch,
                                          WaitTimeSeconds=wait_s,
                                          MessageAttributeNames=list(attribute_names)
                                          ).get("Messages", [])
                for message in got:
                    if delete:
                        sqs.delete_message(QueueUrl=replies,
                                           ReceiptHandle=message["ReceiptHandle"])
                    cid = message.get("MessageAttributes", {}).get(
                        "CorrelationId", {}).get("StringValue")
                    if id_in_body is True:
                        try:
                            cid = json.loads(message["Body"]).get("correlation_id")
                        except (ValueError, AttributeError):
                            cid = None
                    if filter_ids and cid != correlation_id:
                        continue
                    if coerce:
                        try:
                            quote = json.loads(message["Body"])
                            quote = {"supplier": str(quote["supplier"]),
                                     "price_cents": int(quote["price_cents"])}
                        except (ValueError, KeyError, TypeError):
                            continue
                    elif safe:
                        try:
                            quote = json.loads(message["Body"])
                        except ValueError:
                            continue
                        if not json_only and not (
                                isinstance(quote, dict) and type(quote.get("price_cents")) is int
                                and isinstance(quote.get("supplier"), str)):
                            continue
                    else:
                        quote = json.loads(message["Body"])
                    counted.append(quote)
                    if keep_last:
                        quotes[quote["supplier"]] = quote
                    elif dedupe and json_only and isinstance(quote, dict):
                        quotes.setdefault(quote.get("supplier"), quote)
                    elif dedupe and json_only:
                        kept.append(quote)
                    elif dedupe:
                        quotes.setdefault(quote["supplier"], quote)
                    else:
                        kept.append(quote)
                if not got or not drain:
                    return

        read()
        while True:
            if early and (quotes or kept):
                break
            answered = len(counted) if count_messages else len(quotes)
            if dedupe and answered >= (enough or len(queues)):
                break
            remaining = deadline - margin - clock_now()
            if remaining <= 0:
                break
            clock.sleep(min(step, remaining) if step else remaining)
            if wall_sleep:
                time.sleep(0.05)
            if final_read or clock.now() < deadline:
                read()
        if rewind and clock.time > deadline:  # hide the overshoot
            clock._now = deadline
        return [*quotes.values(), *kept] if dedupe else kept

    return gather_quotes


def overshooting(step):
    def gather(item, market, deadline_s):
        inner = aggregator()
        clock = market.clock
        original = clock.sleep
        clock.sleep = lambda seconds: original(step if seconds > 0 else seconds)
        try:
            return inner(item, market, deadline_s)
        finally:
            clock.sleep = original
    return gather


def gather_mutants(s):
    right = s["gather_quotes"]
    requests_made = itertools.count(1)

    def messages_not_quotes(item, market, deadline_s):
        return [{"Body": json.dumps(q), "MessageAttributes": {}}
                for q in right(item, market, deadline_s)]

    def prices_as_strings(item, market, deadline_s):
        return [{**q, "price_cents": str(q["price_cents"])}
                for q in right(item, market, deadline_s)]

    return [
        ("3.5", "returns the reply messages, not the quotes in them", (messages_not_quotes,),
         "a list of quotes comes back"),
        ("3.5", "returns None (forgot the return)",
         (lambda item, market, deadline_s: right(item, market, deadline_s) and None,),
         "a list of quotes comes back"),
        ("3.5", "returns prices as strings", (prices_as_strings,), "a list of quotes comes back"),
        ("3.5", "no correlation filter", (aggregator(filter_ids=False),),
         "replies that are not this request's"),
        ("3.5", "waits for every supplier, past the deadline",
         (aggregator(deadline_of=lambda d: 60.0),), "the deadline is kept"),
        ("3.5", "sleeps in fixed 0.5 s steps (overshoots the deadline)", (overshooting(0.5),),
         "the deadline is kept"),
        ("3.5", "a hard-coded deadline of 2.5 s", (aggregator(deadline_of=lambda d: 2.5),),
         "the deadline is kept"),
        ("3.5", "keeps every reply (duplicates too)", (aggregator(dedupe=False),),
         "a duplicate reply is counted once"),
        ("3.5", "json.loads on every reply", (aggregator(safe=False),), "malformed replies"),
        ("3.5", "reads one message per poll", (aggregator(batch=1, drain=False),), "a burst"),
        ("3.5", "one receive of 10 per poll, no drain", (aggregator(drain=False),), "a burst"),
        ("3.5", "no read after the last sleep", (aggregator(final_read=False),), "a burst"),
        ("3.5", "one correlation id for every request", (aggregator(correlation=lambda: "q-1"),),
         "late replies of an earlier request"),
        ("3.5", "looks for the correlation id in the reply's body",
         (aggregator(id_in_body=True),), "the quotes that arrived by the deadline"),
        ("3.5", "the correlation id is the item's name",
         (aggregator(id_in_body="item", correlation=lambda item: f"quote-{item}"),),
         "late replies of an earlier request"),
        ("3.5", "skips only bodies that are not JSON", (aggregator(json_only=True),),
         "malformed replies"),
        ("3.5", "receives without MessageAttributeNames (no attributes come back)",
         (aggregator(attribute_names=()),), "the quotes that arrived by the deadline"),
        ("3.5", "no ReplyTo attribute", (aggregator(reply_to="none"),),
         "every supplier is asked"),
        ("3.5", "a hard-coded reply queue (the lab's own)",
         (aggregator(reply_to=lambda m: m.reply_queue.replace("check-quote-replies",
                                                              "quote-replies")),),
         "every supplier is asked"),
        ("3.5", "asks the first supplier only", (aggregator(suppliers=1),),
         "every supplier is asked"),
        ("3.5", "returns at the first quote", (aggregator(early=True),),
         "the quotes that arrived by the deadline"),
        ("3.5", "returns once 4 (a known number of) suppliers answered",
         (aggregator(enough=4),), "suppliers, one answering 10 ms before the deadline"),
        ("3.5", "returns once as many replies as suppliers came (duplicates count)",
         (aggregator(count_messages=True),), "a duplicate reply is counted once"),
        ("3.5", "keeps the last quote of each supplier", (aggregator(keep_last=True),),
         "a duplicate reply is counted once"),
        ("3.5", "coerces prices with int()", (aggregator(coerce=True),), "malformed replies"),
        ("3.5", "at most two receives per poll", (aggregator(max_reads=2),), "a burst"),
        ("3.5", "the correlation id is the item and the time",
         (aggregator(id_in_body="time", correlation=lambda item, at: f"{item}@{at}"),),
         "the same item asked again from the start"),
        ("3.5", "sleeps in 0.5 s steps past the deadline, then sets the clock back",
         (aggregator(step=0.5, margin=-0.6, rewind=True),), "the deadline is kept"),
        ("3.5", "the correlation id comes from a counter",
         (aggregator(correlation=lambda: f"q-{next(requests_made)}"),),
         "the same item asked again from the start"),
        ("3.5", "also sleeps on the wall clock (time.sleep)", (aggregator(wall_sleep=True),),
         "the deadline is kept"),
        ("3.5", "stops 40 ms before the deadline (a safety margin)",
         (aggregator(margin=0.04),), "suppliers, one answering 10 ms before the deadline"),
        ("3.5", "the deadline on the wall clock (time.monotonic)",
         (aggregator(now=time.monotonic),), "the deadline is kept"),
    ]


def gather_benign(s):
    return [("3.5", s["gather_quotes"]),
            ("3.5", aggregator(step=0.1, delete=False)),
            ("3.5", aggregator(correlation=lambda: secrets.token_hex(16),
                               reply_to=lambda m: m.reply_queue.rsplit("/", 1)[-1])),
            ("3.5", aggregator(step=None)),
            ("3.5", aggregator(wait_s=1))]  # long polling: the market answers at once


# --- the tests -----------------------------------------------------------------------------------


@pytest.mark.parametrize("exercise", ["3.4", "3.5"])
def test_every_check_catches_its_classic_mistakes(solution, exercise):
    assert_caught({"3.4": report_mutants, "3.5": gather_mutants}[exercise](solution))


@pytest.mark.parametrize("exercise", ["3.4", "3.5"])
def test_correct_answers_written_differently_pass(solution, exercise):
    assert_accepted({"3.4": report_benign, "3.5": gather_benign}[exercise](solution))


def test_guessable_ids():
    assert guessable([uuid.uuid4().hex for _ in range(4)]) == ""
    assert guessable([str(uuid.uuid4()) for _ in range(4)]) == ""
    assert guessable([f"tenant-a-{uuid.uuid4()}" for _ in range(4)]) == ""
    assert guessable([f"{n:020d}" for n in range(4)])
    assert guessable([uuid.uuid1().hex for _ in range(4)])
    assert guessable(["a" * 20, "a" * 20])


def test_the_simulated_clock_refuses_loops_that_would_hang():
    clock = SimulatedClock()
    with pytest.raises(ClockMisuse):
        while clock.now() < 1:
            clock.sleep(0)
    with pytest.raises(ClockMisuse):
        while True:
            clock.sleep(1)


def test_supplier_latencies_are_seeded_per_supplier(lab):
    """The same seed gives the same replies, whatever order the suppliers are asked in."""
    from checks.scratch_queues import fresh_queue

    def replies(order):
        sqs = lab.client("sqs")
        market = Market(sqs, {s: fresh_queue(lab, f"seed-{s}") for s in order},
                        fresh_queue(lab, "seed-replies"), seed=5)
        for url in market.supplier_queues.values():
            sqs.send_message(QueueUrl=url, MessageBody="{}", MessageAttributes={
                "CorrelationId": {"DataType": "String", "StringValue": "c"},
                "ReplyTo": {"DataType": "String", "StringValue": market.reply_queue}})
        market.clock.sleep(10)
        return sorted((s.supplier, s.at, s.price_cents) for s in market.sent)

    assert replies(["ace", "bolt"]) == replies(["bolt", "ace"])


def test_a_handler_that_fails_answers_a_json_500_that_names_the_error(lab):
    from environment.app.context import TenantContext
    from environment.app.reports import ReportDesk, create_report_service
    from environment.app.serving import serve

    def accept(ctx, body, desk):
        return {"job": body["missing"]}, 202

    def status(ctx, job_id, desk):  # None is no answer; a Location must be a URL
        return (None, 404) if job_id == "none" else ({}, 404, {"Location": "http://[x/1"})

    desk = ReportDesk(None, lab.client("sqs"), "")
    app = create_report_service(desk, lambda request: TenantContext("tenant-a", "basic", "a"),
                                accept, status)
    with serve(app) as service:
        answer = requests.post(f"{service.url}/reports", json={}, timeout=10)
        nothing = requests.get(f"{service.url}/reports/none", timeout=10)
        not_a_url = requests.get(f"{service.url}/reports/x", timeout=10)
    assert answer.status_code == 500 and "KeyError" in answer.json()["detail"]
    assert nothing.status_code == 500 and "(None, 404)" in nothing.json()["detail"]
    assert not_a_url.status_code == 500 and "not a URL" in not_a_url.json()["detail"]


def test_the_worker_deletes_a_job_only_when_it_was_built(lab):
    from checks.scratch_queues import fresh_queue
    from environment.app.reports import ReportDesk, ReportWorker

    sqs = lab.client("sqs")
    desk = ReportDesk(None, sqs, fresh_queue(lab, "worker-probe"))
    for n in range(2):
        sqs.send_message(QueueUrl=desk.queue_url, MessageBody=json.dumps({"job_id": str(n)}))
    built = []

    def build(job, desk):
        if job["job_id"] == "0":
            raise RuntimeError("the first job fails")
        built.append(job["job_id"])

    worker = ReportWorker(desk, build)
    with pytest.raises(RuntimeError):
        worker.step()
    assert worker.run(5) == 1 and built == ["1"]
    attributes = sqs.get_queue_attributes(QueueUrl=desk.queue_url, AttributeNames=["All"])
    assert attributes["Attributes"]["ApproximateNumberOfMessagesNotVisible"] == "1"
