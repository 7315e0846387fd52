"""Ask the gate's policy engine about every request a policy could face.

A policy check that tries a dozen hand-picked requests misses the action
family or the resource wildcard it did not think of. These helpers let a check
enumerate instead: every action of a service as botocore's service model names
it, on every resource of the account, for the own tenant, other tenants,
lookalikes and an untagged session, and then compare what the policy allows
with what the exercise asks for. Nothing is sent to the emulator: it is the
same evaluator the gate runs, called in-process.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import cache
from typing import Any

import botocore.session

from environment.emulator.iam.calls import Call
from environment.emulator.iam.policy import Decision, Request, evaluate
from environment.emulator.iam.principals import ACCOUNT, Principal
from environment.emulator.iam.record import UNSUPPORTED
from environment.emulator.iam.requests import authorizations

ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/check"
# A request of each service that carries nothing of its own: what the gate adds to it is what
# it adds to every request of that service (aws:RequestedRegion, ...).
PROBES = {"dynamodb": Call("dynamodb", "ListTables", "json"),
          "s3": Call("s3", "ListBuckets", "rest-xml", method="GET")}


@dataclass(frozen=True)
class Question:
    """One request a session could make: action, resource, its context keys and its tags."""

    action: str
    resource: str
    context: Mapping[str, Any] = field(default_factory=dict)
    tags: Mapping[str, str] = field(default_factory=dict)

    def describe(self) -> str:
        keys = self.context.get("dynamodb:LeadingKeys", "<none>") \
            if self.action.startswith("dynamodb:") else None
        parts = [f"{self.action} on {self.resource}"]
        if keys is not None:
            parts.append(f"leading keys {keys}")
        if self.action.startswith("s3:ListBucket"):
            prefix = self.context.get("s3:prefix")
            parts.append("no s3:prefix" if prefix is None else f"s3:prefix {prefix!r}")
        for key in ("s3:delimiter", "dynamodb:Select", "dynamodb:Attributes"):
            if key in self.context:
                parts.append(f"{key.split(':')[1]} {self.context[key]!r}")
        text = ", ".join(parts)
        if self.tags or self.action.startswith("dynamodb:"):
            tags = ", ".join(f"{k}={v}" for k, v in self.tags.items()) or "no tags"
            text += f" (session with {tags})"
        return text


@cache
def actions_of(*services: str, renamed: tuple[tuple[str, str], ...] = ()) -> tuple[str, ...]:
    """Every operation of these services in botocore's models, as IAM actions (prefix:Op).

    ``renamed`` maps the operations whose IAM action has another name (S3's HeadObject is
    s3:GetObject), so that reports name actions a policy can contain.
    """
    session = botocore.session.get_session()
    names = dict(renamed)
    found: set[str] = set()
    for service in services:
        model = session.get_service_model(service)
        prefix = model.signing_name or model.endpoint_prefix
        found |= {f"{prefix}:{names.get(op, op)}" for op in model.operation_names}
    return tuple(sorted(found))


@cache
def request_context(service: str, region: str) -> dict[str, Any]:
    """The global keys (aws:...) the gate adds to every request of ``service`` in ``region``,
    read from the gate's own request code, so that questions and live requests cannot drift."""
    probe = replace(PROBES.get(service, Call(service, "List", "json")), region=region)
    try:
        found = authorizations(probe, lambda *args: None)
    except Exception:  # noqa: BLE001 - a probe the gate does not classify: no global keys
        found = []
    return {k: v for q in found for k, v in q.context.items() if k.lower().startswith("aws:")}


def region_of(question: Question, default: str) -> str:
    """The region a request for this resource is sent to (S3 ARNs name none)."""
    parts = question.resource.split(":")
    return parts[3] if len(parts) > 3 and parts[3] else default


def request_for(question: Question, region: str = "us-east-1", role: str = ROLE_ARN) -> Request:
    """The request the gate would evaluate for a session of ``role`` named after its tenant (as
    a vending machine names them): the session's keys, the service's global keys (in the
    resource's region) and the question's own."""
    tenant = next((v for k, v in question.tags.items() if k.lower() == "tenantid"), "session")
    name = role.rsplit("/", 1)[-1]
    who = Principal("session", f"arn:aws:sts::{ACCOUNT}:assumed-role/{name}/{tenant}",
                    userid=f"AROACHECKSESSION:{tenant}", role_arn=role,
                    tags=dict(question.tags)).context()
    service = question.action.split(":")[0]
    return Request(question.action, question.resource, {
        **who, **request_context(service, region_of(question, region)), **question.context})


def decision(policy: Any, question: Question, region: str = "us-east-1",
             role: str = ROLE_ARN) -> Decision:
    return evaluate(request_for(question, region, role), [policy])


def allows(policy: Any, question: Question, region: str = "us-east-1", role: str = ROLE_ARN
           ) -> bool:
    """Would the gate allow this question for a session whose only policy is ``policy``?"""
    return decision(policy, question, region, role).allowed


def denied(policy: Any, questions: Iterable[Question], region: str = "us-east-1",
           role: str = ROLE_ARN) -> list[Question]:
    return [q for q in questions if not allows(policy, q, region, role)]


def allowed(policy: Any, questions: Iterable[Question], region: str = "us-east-1",
            role: str = ROLE_ARN) -> list[Question]:
    return [q for q in questions if allows(policy, q, region, role)]


def unsupported(policy: Any, questions: Iterable[Question], region: str = "us-east-1",
                role: str = ROLE_ARN) -> str:
    """Why the gate's policy engine cannot evaluate the policy for these questions, or ''."""
    for question in questions:
        found = decision(policy, question, region, role)
        if found.reason_type == UNSUPPORTED:
            return found.reason
    return ""


def allowed_over_tls(policy: Any, questions: Sequence[Question], region: str = "us-east-1",
                     role: str = ROLE_ARN) -> bool:
    """Whether these (denied) questions would all be allowed if the request came over HTTPS."""
    return bool(questions) and all(
        allows(policy, replace(q, context={**q.context, "aws:SecureTransport": True}), region,
               role) for q in questions)


def summary(found: Sequence[Question], verb: str) -> str:
    """The first offending question, and how many more there are (by distinct action too)."""
    first = found[0]
    actions = sorted({q.action for q in found})
    more = f"; {len(found) - 1} more request(s)" if len(found) > 1 else ""
    if len(actions) > 1:
        listed = ", ".join(actions[:6]) + (f" and {len(actions) - 6} more" if len(actions) > 6
                                           else "")
        more += f" ({verb}: {listed})"
    return f"{verb} {first.describe()}{more}"


def policy_problem(policy: Any) -> str:
    """What makes ``policy`` something IAM would not take as a policy document, or ''."""
    if isinstance(policy, str):
        return "a JSON string: return the dict; json.dumps happens when it is attached"
    if not isinstance(policy, dict):
        return f"a {type(policy).__name__}, not a policy document (a dict)"
    try:
        text = json.dumps(policy)
    except (TypeError, ValueError) as error:
        return f"not JSON-serialisable ({error})"
    statements = policy.get("Statement")
    if isinstance(statements, dict):
        statements = [statements]
    if not isinstance(statements, list) or not statements:
        return "a dict without a Statement list"
    for number, statement in enumerate(statements):
        problem = _statement_problem(statement)
        if problem:
            return f"statement {number}: {problem}"
    if "${" in text and policy.get("Version") != "2012-10-17":
        return ("a policy with ${...} variables but without \"Version\": \"2012-10-17\": IAM "
                "then reads the variables as literal text, and nothing matches")
    return ""


def _statement_problem(statement: Any) -> str:
    if not isinstance(statement, dict):
        return f"a {type(statement).__name__}, not a dict"
    if statement.get("Effect") not in ("Allow", "Deny"):
        return "Effect must be 'Allow' or 'Deny'"
    if ("Action" in statement) == ("NotAction" in statement):
        return "needs exactly one of Action or NotAction"
    if ("Resource" in statement) == ("NotResource" in statement):
        return "needs exactly one of Resource or NotResource"
    for key in ("Action", "NotAction", "Resource", "NotResource"):
        value = statement.get(key)
        values = value if isinstance(value, list) else [value] if key in statement else []
        if not all(isinstance(v, str) for v in values):
            return f"{key} must be a string or a list of strings"
    block = statement.get("Condition", {})
    if not isinstance(block, dict) or not all(isinstance(v, dict) for v in block.values()):
        return "Condition must map operators to {key: values}"
    return ""


def unknown_tenant(seed: str, avoid: Iterable[str] = ()) -> str:
    """A tenant id no answer can have hard-coded, the same for the same seed."""
    rng = random.Random(seed)
    taken = set(avoid)
    while True:
        candidate = "tenant-" + "".join(rng.choice("bcdfghjkmnpqrstvwxz") for _ in range(5))
        if candidate not in taken:
            return candidate
