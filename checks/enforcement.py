"""Does the account enforce IAM? Lab 2's live checks mean nothing on one that does not.

LocalStack Community and plain moto accept every request whatever the policies say, so a
learner's correct isolation would be reported as leaking. Before judging live effects, a check
asks once per endpoint: a session of the broad role, with a session policy that denies
everything, reads the orders table. AWS and the kit's emulator refuse it; an endpoint that
lets it through does not enforce IAM, and the check says so instead of blaming the learner.
"""

from __future__ import annotations

import json

from botocore.exceptions import ClientError

from environment.lab import Lab

from .framework import CannotCheck

DENY_ALL = json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Deny", "Action": "*", "Resource": "*"}]})
_ENFORCING: dict[str, bool] = {}


def enforces_iam(lab: Lab) -> bool:
    """Whether a request every policy denies is refused by this endpoint (asked once)."""
    if lab.settings.embedded:
        return True  # the kit's own gate
    target = lab.settings.target
    if target not in _ENFORCING:
        credentials = lab.client("sts").assume_role(
            RoleArn=lab.role_arn("order-service"), RoleSessionName="enforcement-probe",
            Policy=DENY_ALL)["Credentials"]
        try:
            lab.session(credentials).client("dynamodb").describe_table(
                TableName=lab.settings.name("orders"))
            _ENFORCING[target] = False
        except ClientError as error:
            code = error.response["Error"]["Code"]
            _ENFORCING[target] = code in ("AccessDeniedException", "AccessDenied")
    return _ENFORCING[target]


def require_enforcement(lab: Lab) -> None:
    if not enforces_iam(lab):
        raise CannotCheck(
            f"the endpoint {lab.settings.target} does not enforce IAM policies (a request that "
            "every policy denies was allowed), so your isolation cannot be judged here. "
            "LocalStack Community and plain moto ignore IAM conditions. Run this lab on the "
            "kit's embedded emulator (unset LAB_ENDPOINT and LAB_EMBEDDED) or on a real AWS "
            "account.")
