"""``lab.why(...)``: why the account allowed or refused a request.

AWS's denial message names the reason type and nothing more. The IAM gate
keeps, for each decision, what the evaluator considered; this module finds the
decision a learner asks about (from a ``ClientError``, an audit event, or a
boto3 session, meaning its latest decision) and shows it: the principal and its
session tags, the action and resource, every statement considered, and for the
statement that decided (or came closest to allowing) each condition with the
request's values and the policy's pattern after variable substitution. As an
HTML table in JupyterLab, as plain text elsewhere.
"""

from __future__ import annotations

import html
import json
import re
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from .emulator.iam.record import ConditionRecord, DecisionRecord, StatementRecord
from .errors import LabError

DENIAL = re.compile(r"User: (\S+) is not authorized to perform: (\S+) on resource: (\S+) ")


@dataclass(frozen=True)
class Explanation:
    """One decision of the account, readable."""

    principal: str
    tags: dict[str, str]
    record: DecisionRecord
    reason: str

    # --- plain text -------------------------------------------------------------------------

    def __str__(self) -> str:
        r = self.record
        verdict = "Allowed" if r.effect == "Allow" else "Denied"
        lines = [f"{verdict}: {r.action} on {r.resource}",
                 f"  {self.reason}" if r.effect == "Deny" else "  allowed by the statement below",
                 f"Principal:    {self.principal}",
                 f"Session tags: {_tags(self.tags)}"]
        lines += [f"Request:      {key} = {_values(value)}" for key, value in _service_keys(r)
                  ] or ["Request:      no service-specific context keys"]
        lines.append("Statements considered:")
        if not r.statements:
            lines.append("  (none: the principal has no policy that could apply)")
        for s in r.statements:
            mark = "  <- deciding" if s == r.deciding else ""
            lines.append(f"  {s.name} ({s.effect}): action {_yes(s.action_matches)}, resource "
                         f"{_resource(s)}, conditions {_conditions(s)}{mark}")
        if r.deciding is not None:
            lines.append(f"{_role(r)} {r.deciding.name}")
            if not r.deciding.conditions:
                lines.append("  no conditions")
            for c in r.deciding.conditions:
                lines.append(f"  {c.operator} {c.key} = {_values(c.values)}")
                lines.append(f"    policy pattern: {_values(c.patterns)} -> "
                             f"{'true' if c.holds else 'false'}")
        if r.note:
            lines.append(f"Evaluation stopped: {r.note}")
        return "\n".join(lines)

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(str(self))

    # --- HTML for JupyterLab ----------------------------------------------------------------

    def _repr_html_(self) -> str:
        r = self.record
        e = html.escape
        verdict = "Allowed" if r.effect == "Allow" else "Denied"
        head = [f"<p><b>{verdict}</b>: <code>{e(r.action)}</code> on <code>{e(r.resource)}</code>"
                + (f"<br>{e(self.reason)}" if r.effect == "Deny" else "") + "</p>",
                f"<p>Principal: <code>{e(self.principal)}</code><br>"
                f"Session tags: <code>{e(_tags(self.tags))}</code>"]
        head += [f"<br>Request: <code>{e(k)} = {e(_values(v))}</code>"
                 for k, v in _service_keys(r)] or ["<br>Request: no service-specific context keys"]
        head.append("</p>")
        rows = []
        for s in r.statements:
            conditions = s.conditions or (None,)
            for i, c in enumerate(conditions):
                first = i == 0
                style = ' style="font-weight:bold"' if s == r.deciding else ""
                rows.append(
                    f"<tr{style}><td>{e(s.name) if first else ''}</td>"
                    f"<td>{e(s.effect) if first else ''}</td>"
                    f"<td>{_yes(s.action_matches) if first else ''}</td>"
                    f"<td>{_resource(s) if first else ''}</td>"
                    + _condition_cells(s, c) + "</tr>")
        table = ("<table><thead><tr><th>statement</th><th>effect</th><th>action</th>"
                 "<th>resource</th><th>condition</th><th>request values</th>"
                 "<th>policy pattern</th><th>holds</th></tr></thead><tbody>"
                 + "".join(rows) + "</tbody></table>")
        foot = (f"<p>{e(_role(r))} <b>{e(r.deciding.name)}</b></p>"
                if r.deciding is not None else "")
        # mathjax_ignore: JupyterLab would typeset a policy's ${...} variables as LaTeX.
        return '<div class="mathjax_ignore">' + "".join(head) + table + foot + "</div>"


def _condition_cells(s: StatementRecord, c: ConditionRecord | None) -> str:
    e = html.escape
    if c is None:
        state = "no conditions" if _conditions(s) == "none" else _conditions(s)
        return f"<td>({e(state)})</td>" + "<td></td>" * 3
    return (f"<td><code>{e(c.operator)} {e(c.key)}</code></td><td><code>{e(_values(c.values))}"
            f"</code></td><td><code>{e(_values(c.patterns))}</code></td>"
            f"<td>{'true' if c.holds else 'false'}</td>")


def _role(r: DecisionRecord) -> str:
    if r.effect == "Allow":
        return "Allowed by"
    if r.reason_type.startswith("explicit deny"):
        return "Denied by"
    return "Nearest miss:"


def _yes(flag: bool) -> str:
    return "yes" if flag else "no"


def _resource(s: StatementRecord) -> str:
    return _yes(s.resource_matches) if s.action_matches else "not evaluated"


def _conditions(s: StatementRecord) -> str:
    if not (s.action_matches and s.resource_matches):
        return "not evaluated"
    return "none" if not s.conditions else _yes(s.applies)


def _tags(tags: dict[str, str]) -> str:
    return ", ".join(f"{k}={v}" for k, v in sorted(tags.items())) or "(none)"


def _values(values: Any) -> str:
    if values is None:
        return "(absent)"
    return json.dumps(list(values) if isinstance(values, tuple | list) else [values])


def _service_keys(r: DecisionRecord) -> list[tuple[str, Any]]:
    """The request's own context keys (dynamodb:LeadingKeys, s3:prefix): not the aws: ones."""
    return [(k, v) for k, v in r.context.items() if not k.lower().startswith(("aws:", "sts:"))]


# --- finding the decision -------------------------------------------------------------------


def explain(lab: Any, subject: Any) -> Explanation:
    """The explanation of a ClientError, an audit event, or a boto3 session's latest decision."""
    if isinstance(subject, Explanation):
        return subject
    if isinstance(subject, ClientError):
        event = _event_for_error(lab, subject)
    elif isinstance(subject, dict) and "decision" in subject and "action" in subject:
        event = subject
    elif hasattr(subject, "get_credentials"):
        event = _latest(lab, subject.get_credentials().access_key)
    elif isinstance(subject, dict) and "AccessKeyId" in subject:
        event = _latest(lab, subject["AccessKeyId"])
    else:
        raise LabError(f"lab.why() explains an AWS error, an audit event or a boto3 session, "
                       f"not a {type(subject).__name__}.",
                       "pass the ClientError you caught (except ClientError as error: "
                       "lab.why(error)).")
    if not event.get("explanation"):
        raise LabError("The account kept no policy evaluation for this decision (the "
                       "administrator's calls and trust-policy checks have none).",
                       "ask about a call made with tenant or service credentials.")
    return Explanation(event["principal"], event.get("principal_tags") or {},
                       DecisionRecord.from_dict(event["explanation"]), event.get("reason", ""))


def _event_for_error(lab: Any, error: ClientError) -> dict:
    message = error.response.get("Error", {}).get("Message", "")
    found = DENIAL.search(message + " ")
    if not found:
        raise LabError("This error is not an IAM denial of the account: "
                       f"{error.response.get('Error', {}).get('Code')}.",
                       "lab.why() explains AccessDenied errors that name a principal and action.")
    principal, action, resource = found.groups()
    events = lab.audit(decision="deny", action=action, principal=principal, resource=resource)
    if not events:
        raise LabError("The audit trail has no record of this denial (was the account reset "
                       "since?).", "repeat the call, then ask again.")
    return events[-1]


def _latest(lab: Any, access_key: str) -> dict:
    events = lab.audit(principal_key=access_key)
    if not events:
        raise LabError("These credentials have made no call that the account evaluated yet.",
                       "make a call with them first (a read of the orders table, say).")
    return events[-1]
