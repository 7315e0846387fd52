"""What the IAM gate costs: the same calls against the emulator with and without it."""

from __future__ import annotations

import json
import os
import statistics
import tempfile
import time
from collections.abc import Callable

from boto3.dynamodb.conditions import Key

from environment import emulator
from environment.account import provision
from environment.emulator.iam.policy import Request, evaluate
from environment.emulator.iam.principals import Principal
from environment.emulator.iam.signing import read_signature, verify
from environment.settings import EMULATOR_ACCOUNT, load_settings

from .measure import Row, timed

POLICY = {"Version": "2012-10-17", "Statement": [{
    "Effect": "Allow", "Action": ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query"],
    "Resource": "arn:aws:dynamodb:*:*:table/saas-lab-orders",
    "Condition": {"ForAllValues:StringLike": {"dynamodb:LeadingKeys": [
        "TENANT#${aws:PrincipalTag/TenantID}", "TENANT#${aws:PrincipalTag/TenantID}#*"]}}}]}


def _emulator(gate_on: bool) -> tuple[dict[str, Callable[[], object]], Callable[[], None]]:
    """A fresh emulator with or without the gate, the calls to time on it, and its stop."""
    settings = load_settings({"LAB_PORT": str(emulator.free_port()),
                              "LAB_STATE_DIR": tempfile.mkdtemp(prefix="lab-bench-gate-")})
    previous = os.environ.get("LAB_IAM_GATE")
    os.environ["LAB_IAM_GATE"] = "1" if gate_on else "0"
    try:
        emulator.ensure_running(settings)
    finally:
        if previous is None:
            os.environ.pop("LAB_IAM_GATE")
        else:
            os.environ["LAB_IAM_GATE"] = previous
    provision.ensure(settings)
    settings.client("iam").put_role_policy(
        RoleName=settings.name("tenant-access"), PolicyName="bench",
        PolicyDocument=json.dumps(POLICY))
    creds = settings.client("sts").assume_role(
        RoleArn=f"arn:aws:iam::{EMULATOR_ACCOUNT}:role/{settings.name('tenant-access')}",
        RoleSessionName="bench", Tags=[{"Key": "TenantID", "Value": "tenant-a"}]
    )["Credentials"]
    scoped = settings.session(creds).resource("dynamodb").Table(settings.name("orders"))
    admin = settings.resource("dynamodb").Table(settings.name("orders"))
    item = {"pk": "TENANT#tenant-a", "sk": "ORDER#bench"}
    scoped.put_item(Item=item)
    calls = {
        "admin GetItem (signature verified)": lambda: admin.get_item(Key=item),
        "tenant GetItem (evaluated)": lambda: scoped.get_item(Key=item),
        "tenant PutItem (evaluated)": lambda: scoped.put_item(Item=item),
        "tenant Query (evaluated)": lambda: scoped.query(
            KeyConditionExpression=Key("pk").eq("TENANT#tenant-a")),
    }
    return calls, lambda: emulator.stop(settings)


def evaluation_cost(repeat: int = 5000) -> float:
    """Seconds for one in-process policy decision like a tenant Query's."""
    request = Request("dynamodb:Query", f"arn:aws:dynamodb:us-east-1:{EMULATOR_ACCOUNT}:table/"
                      "saas-lab-orders", {**Principal("session", "arn", tags={
                          "TenantID": "tenant-a"}).context(),
                          "dynamodb:LeadingKeys": ["TENANT#tenant-a"]})
    document = json.dumps(POLICY)
    samples = timed(lambda: evaluate(request, [document]), repeat)
    return statistics.median(samples)


def verification_cost(repeat: int = 5000) -> float:
    """Seconds for one SigV4 verification of a tenant's GetItem (in-process, as the gate does)."""
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    body = json.dumps({"TableName": "saas-lab-orders", "Key": {
        "pk": {"S": "TENANT#tenant-a"}, "sk": {"S": "ORDER#bench"}}}).encode()
    request = AWSRequest(method="POST", url="http://127.0.0.1:4566/", data=body, headers={
        "X-Amz-Target": "DynamoDB_20120810.GetItem",
        "Content-Type": "application/x-amz-json-1.0"})
    SigV4Auth(Credentials("ASIABENCH", "secret", "token"), "dynamodb", "us-east-1").add_auth(
        request)
    environ = {"REQUEST_METHOD": "POST", "PATH_INFO": "/", "RAW_URI": "/", "QUERY_STRING": "",
               "HTTP_HOST": "127.0.0.1:4566", "CONTENT_TYPE": "application/x-amz-json-1.0",
               "CONTENT_LENGTH": str(len(body))}
    for name, value in request.headers.items():
        environ["HTTP_" + name.upper().replace("-", "_")] = value
    signed = read_signature(environ)
    assert signed is not None

    signed_at = time.time()  # the gate refuses a signature more than 15 minutes off its clock

    def once() -> None:
        verify(environ, body, read_signature(environ) or signed, "secret", signed_at)

    once()
    return statistics.median(timed(once, repeat))


def run(repeat: int = 300, batch: int = 10) -> list[Row]:
    plain_calls, stop_plain = _emulator(False)
    gated_calls, stop_gated = _emulator(True)
    try:
        plain: dict[str, list[float]] = {name: [] for name in plain_calls}
        gated: dict[str, list[float]] = {name: [] for name in gated_calls}
        for name in plain_calls:  # warm up connections and caches
            timed(plain_calls[name], 20)
            timed(gated_calls[name], 20)
        for _ in range(repeat // batch):  # interleaved, so drift hits both alike
            for name in plain_calls:
                plain[name] += timed(plain_calls[name], batch)
                gated[name] += timed(gated_calls[name], batch)
    finally:
        stop_plain()
        stop_gated()
    rows: list[Row] = []
    for name in plain:
        base, cost = statistics.median(plain[name]), statistics.median(gated[name])
        rows.append((f"gate overhead, {name}",
                     f"{cost * 1000:.2f} ms vs {base * 1000:.2f} ms plain = {cost / base:.2f}x",
                     "<= 1.3x"))
    rows.append(("one policy decision in the gate (in-process, median of 5000)",
                 f"{evaluation_cost() * 1e6:.0f} us", ""))
    rows.append(("one SigV4 signature verification (in-process, median of 5000)",
                 f"{verification_cost() * 1e6:.0f} us", ""))
    return rows
