"""The N x N isolation check (exercise 2.3): tenant tables, judged by what the account saw.

The learner's tables are first looked at (name, endpoint, region, the
credentials they sign with) so that a table built wrongly is a report, not a
crash or a call to the real AWS. Then every tenant's table writes its own
partition and tries every other one, one thread per tenant; the audit trail
tells who made each write.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from functools import partial
from typing import Any
from urllib.parse import urlparse

import boto3

from environment.account.tenants import TENANTS
from environment.lab import Lab

from .answers import attempt
from .framework import Trial, short
from .vending import takes_clock, vend

REJECTED_CREDENTIALS = {  # what AWS answers to credentials that are not a whole session
    "UnrecognizedClientException", "InvalidClientTokenId", "InvalidSignatureException",
    "MissingAuthenticationTokenException", "IncompleteSignatureException",
    "SignatureDoesNotMatch", "ExpiredTokenException", "InvalidToken"}


LOOPBACK = {"127.0.0.1", "localhost", "::1"}


def _same_endpoint(url: str, endpoint: str) -> bool:
    """The same server: scheme and port equal, and the same host or both loopback names."""
    a, b = urlparse(url), urlparse(endpoint)
    same_host = a.hostname == b.hostname or {a.hostname, b.hostname} <= LOOPBACK
    return a.scheme == b.scheme and a.port == b.port and same_host


def _default_key(session: Any) -> str | None:
    """The access key boto3's default session signs with (a new one, when there is none yet)."""
    try:
        credentials = (session or boto3.Session()).get_credentials()
        return credentials.get_frozen_credentials().access_key if credentials else None
    except Exception:  # noqa: BLE001 - no credentials to be found
        return None


def _process_credentials() -> tuple[Any, str | None, dict[str, str]]:
    session = boto3.DEFAULT_SESSION
    return session, _default_key(session), {k: v for k, v in os.environ.items()
                                            if k.startswith("AWS_")}


def _changed_process_credentials(before: tuple[Any, str | None, dict[str, str]]) -> list[str]:
    """What the learner's functions changed of boto3's default session and the AWS_* variables
    (put back as they were, so the rest of the notebook is not affected). boto3 creates its
    default session when first used: that alone changes nothing."""
    session, key, environ = before
    now_session, now_key, now_environ = _process_credentials()
    changed = []
    if now_session is not session and now_key != key:
        changed.append("boto3's default session signs with other credentials "
                       "(boto3.setup_default_session)")
    if now_session is not session:
        boto3.DEFAULT_SESSION = session
    keys = sorted(k for k in set(environ) | set(now_environ)
                  if environ.get(k) != now_environ.get(k))
    if keys:
        changed.append(f"os.environ changed: {', '.join(keys)}")
        for name in keys:
            if name in environ:
                os.environ[name] = environ[name]
            else:
                os.environ.pop(name, None)
    return changed


def _signing_credentials(table: Any) -> Any | None:
    """The credentials a boto3 resource signs with, or None if it does not say."""
    try:
        credentials = table.meta.client._request_signer._credentials
        return credentials.get_frozen_credentials() if credentials is not None else None
    except Exception:  # noqa: BLE001 - not a boto3 resource after all
        return None


def _own_partition(tenant: str, table: Any) -> str:
    """Write and read back the tenant's own item with the learner's table: 'allowed' or why
    not."""
    key = {"pk": f"TENANT#{tenant}", "sk": "ORDER#isolation-check"}
    outcome = attempt(lambda: table.put_item(Item=key))
    if outcome == "allowed":
        outcome = attempt(lambda: table.query(KeyConditionExpression="pk = :p",
                                               ExpressionAttributeValues={":p": key["pk"]}))
    return outcome


def _expect_own_partition(t: Trial, outcome: str) -> None:
    if outcome == "MissingAuthenticationTokenException":
        t.expect(False, "its own partition allowed", "AWS refused an unsigned request",
                 hint="the table sends its requests unsigned; it must sign them with the "
                      "tenant's vended credentials.",
                 code_hint="boto3.Session(aws_access_key_id=..., aws_secret_access_key=..., "
                           "aws_session_token=...).resource('dynamodb', endpoint_url=..., "
                           "region_name=...), without signature_version=UNSIGNED")
    if outcome in REJECTED_CREDENTIALS:
        t.expect(False, "its own partition allowed", f"AWS rejected the credentials ({outcome})",
                 hint="a session's credentials are three parts; the session token is one of "
                      "them.", code_hint="boto3.Session(..., aws_session_token="
                                         "credentials['SessionToken'])")
    t.expect(outcome == "allowed", "its own partition allowed", outcome,
             hint="the table must sign with this tenant's vended credentials, in the lab's "
                  "region; and the 2.1 policy must be attached to the tenant role (the cell "
                  "after the 2.1 check).")


def _written_by_tenant_sessions(t: Trial, lab: Lab, since: int, tenants: list[str]) -> None:
    """Each tenant's item is in the table, and the account saw a tenant session write it."""
    keys = [{"pk": {"S": f"TENANT#{tenant}"}, "sk": {"S": "ORDER#isolation-check"}}
            for tenant in tenants]
    found = lab.client("dynamodb").batch_get_item(RequestItems={
        lab.settings.name("orders"): {"Keys": keys}})["Responses"]
    stored = {item["pk"]["S"] for items in found.values() for item in items}
    missing = [k["pk"]["S"] for k in keys if k["pk"]["S"] not in stored]
    t.expect(not missing, "each tenant's item in the orders table", f"missing: {missing}",
             hint="the writes must reach the lab's own orders table.")
    writers = {key for e in lab.audit(since=since, action="dynamodb:PutItem", decision="allow")
               if ":assumed-role/" in e["principal"] for key in e.get("leading_keys") or []}
    unseen = [tenant for tenant in tenants if f"TENANT#{tenant}" not in writers]
    t.expect(not unseen, "every write made by a tenant session, as the account records it",
             f"the account saw no tenant session write for {', '.join(unseen)} (the "
             "administrator wrote, or an unsigned request)",
             hint="the table must sign with the vended credentials, not with the kit's own "
                  "(lab.table() signs as the administrator).")


def _probe(reader: str, table: Any, tenants: list[str]) -> tuple[str, list[str]]:
    """One tenant's table: its own partition first ('allowed' or why not), then the leaks:
    reads and writes of the others' partitions, and a Scan."""
    own = _own_partition(reader, table)
    leaks = []
    for owner in (o for o in tenants if o != reader):
        for verb, call in (
            ("read", lambda owner=owner: table.query(
                KeyConditionExpression="pk = :p",
                ExpressionAttributeValues={":p": f"TENANT#{owner}"})),
            ("write", lambda owner=owner: table.put_item(
                Item={"pk": f"TENANT#{owner}", "sk": "ORDER#planted"}))):
            outcome = attempt(call)
            if outcome != "denied":
                leaks.append(f"{reader} could {verb} {owner}'s orders ({outcome})")
    if attempt(table.scan) != "denied":
        leaks.append(f"{reader} could Scan every tenant's orders")
    return own, leaks


def _in_parallel(calls: dict[str, Callable[[], Any]], timeout: float) -> dict[str, Any]:
    """Run the calls at once in daemon threads; a call still running at the deadline is None."""
    results: dict[str, Any] = dict.fromkeys(calls)

    def run(name: str, call: Callable[[], Any]) -> None:
        results[name] = call()

    threads = [threading.Thread(target=run, args=item, daemon=True) for item in calls.items()]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + timeout
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
    return results


def check_matrix(lab: Lab, vend_credentials: Callable, scoped_orders_table: Callable,
                 t: Trial) -> None:
    """Every tenant's table reaches its own partition, as the account sees it, and no other."""
    orders = lab.settings.name("orders")
    endpoint = lab.settings.endpoint.rstrip("/")
    tables: dict[str, Any] = {}
    mark = lab.audit_mark()
    before = _process_credentials()
    for tenant in TENANTS:
        with t.case(f"{tenant.id}: scoped_orders_table returns the orders table"):
            creds = vend(t, vend_credentials, lab.id_token(tenant.users[0]), takes_clock(
                vend_credentials))
            table = t.call(scoped_orders_table, creds)
            t.expect(getattr(table, "name", None) == orders and hasattr(table, "put_item"),
                     f"a boto3 Table resource named {orders}", short(table),
                     hint="return the Table resource (dynamodb.Table(name)), not a client or "
                          "a session, for the lab's own table name.",
                     code_hint="....resource('dynamodb', ...).Table(lab.settings.name('orders'))")
        with t.case(f"{tenant.id}: the table talks to the lab's endpoint in its region"):
            meta = getattr(getattr(table, "meta", None), "client", None)
            url = str(getattr(getattr(meta, "meta", None), "endpoint_url", "")).rstrip("/")
            region = getattr(getattr(meta, "meta", None), "region_name", None)
            t.expect(_same_endpoint(url, endpoint), f"endpoint {endpoint}", url or "no endpoint",
                     hint="without an endpoint, boto3 talks to the real AWS.",
                     code_hint="....resource('dynamodb', endpoint_url=lab.settings.endpoint)")
            t.expect(region == lab.settings.region, f"region {lab.settings.region}", region,
                     hint="the policy names the table's ARN, region included.",
                     code_hint="boto3.Session(..., region_name=lab.settings.region)")
        with t.case(f"{tenant.id}: the table signs with all three parts of the credentials"):
            frozen = _signing_credentials(table)
            if frozen is not None and frozen.access_key == creds["AccessKeyId"]:
                t.expect(frozen.token == creds["SessionToken"]
                         and frozen.secret_key == creds["SecretAccessKey"],
                         "the vended access key, secret key and session token",
                         "the session token is missing" if not frozen.token
                         else "another secret key or session token",
                         hint="temporary credentials are three parts, and AWS refuses the "
                              "access key of a session without its session token.",
                         code_hint="boto3.Session(aws_access_key_id=..., "
                                   "aws_secret_access_key=..., aws_session_token=...)")
        tables[tenant.id] = table
    with t.case("the tables leave boto3's default session and the AWS_* environment alone"):
        changed = _changed_process_credentials(before)
        t.expect(not changed, "no change to process-wide credentials", "; ".join(changed),
                 hint="boto3's default session and the AWS_* environment variables belong to the "
                      "whole process: a request that sets them for its tenant changes them for "
                      "every request running at the same time, and a table built later (by any "
                      "code) signs as whichever tenant came last.",
                 code_hint="build a boto3.Session(aws_access_key_id=..., ...) of your own per set "
                           "of credentials; never boto3.setup_default_session or os.environ")
    tenants = list(tables)
    # The calls on the tables run one thread per tenant (a boto3 resource is not thread-safe,
    # the emulator is); the cases then report in a fixed order.
    probed = _in_parallel({reader: partial(_probe, reader, tables[reader], tenants)
                           for reader in tenants}, t.timeout)
    with t.case("every tenant's table answers"):
        slow = [tenant for tenant, result in probed.items() if result is None]
        t.expect(not slow, f"answers within {t.timeout:g} s", f"no answer for {slow}",
                 hint="look for a table whose calls wait forever (a retry loop, or an endpoint "
                      "that never answers).")
    for tenant_id, (own, _) in probed.items():
        with t.case(f"{tenant_id} reaches its own partition"):
            _expect_own_partition(t, own)
    with t.case("the account saw each tenant write with the vended credentials"):
        _written_by_tenant_sessions(t, lab, mark, tenants)
    leaks = [leak for _, found in probed.values() for leak in found]
    with t.case(f"{len(tenants)} x {len(tenants)} cross-tenant reads, writes and scans"):
        t.expect(not leaks, "0 leaks", f"{len(leaks)} leak(s): " + "; ".join(leaks[:3]),
                 hint="the credentials must be those of the tenant role, whose policy (2.1) "
                      "limits a session to its own tenant's partitions.")
