"""Check 3.3: tenant context in messages, signed by the producer and verified by the consumer.

Producer: the learner's ``publish_order_placed`` is called for every tenant (counts vary), and
the check reads what reached the order-events queue through the bus's rule: each event must
carry the whole context and the order, signed with the lab's KMS key over ``canonical``.
Consumer: the check sends those events again, plus a duplicate and hostile ones (edited after
signing, signed with another key, unsigned, not JSON), and runs the kit's consumer loop with
the learner's ``handle_order_placed`` for a bounded number of receives. It then judges by what
the account saw: which message ids were deleted, which reached the dead-letter queue and why,
which records the table holds (the kit's own read), and, in the IAM gate's audit trail, which
session made each write. Every message sent must be counted once: processed or dead-lettered.

The hostile messages are built from the learner's own genuine ones: unsigned tenant copies beside
a signed envelope (handled as signed, or refused), a forger's message in which every name of the
lab key is the forger key's, and genuinely signed messages a consumer cannot act on (no tenant, a
record too big to store), which must fail without a fallback. The whole table, attributes and
all, is read after every handler call: a refused call changes nothing. Last, the lab key is
disabled for a moment so that ``kms.verify`` raises, as AWS does for a bad signature.
"""

from __future__ import annotations

import json
import uuid
import zlib
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from environment.account.signing_keys import alias
from environment.account.tenants import TENANTS
from environment.app import order_events as oe
from environment.app.context import TenantContext
from environment.app.keys import fulfilment_sk, tenant_pk
from environment.lab import Lab

from ..enforcement import require_enforcement
from ..framework import NotStarted, Raised, TimedOut, Trial, call_with_timeout, exercise, short
from ..scratch import fresh_table, kit_table, raw_items
from .envelopes import (
    detail_of,
    edited,
    forger_key,
    key_names,
    renamed,
    signature_valid,
    signed_with,
)

# How many orders each tenant places: unequal, so that a count fixed in code shows.
PLAN = ((TENANTS[0], 2), (TENANTS[1], 1), (TENANTS[2], 3), (TENANTS[3], 1))
WRITES = ("dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:BatchWriteItem",
          "dynamodb:DeleteItem", "dynamodb:TransactWriteItems")
FAIL_CLOSED = ("a message you cannot act on as its signed tenant must fail: no credentials "
               "(vending refuses an empty tenant) or a write that fails is a raise, not a "
               "fallback to broader credentials or a logged warning; the message is retried "
               "and dead-lettered.")
REFUSE = ("verify before anything else: the signature must be the order-events key's over "
          "canonical(context, order) of this very message, and SignatureValid must be True "
          "(AWS raises KMSInvalidSignatureException, the emulator answers False: handle both); "
          "then raise, so the message is retried and dead-lettered.")


@dataclass(frozen=True)
class Sent:
    label: str  # "genuine", "duplicate", or what is wrong with it
    body: str
    context: TenantContext | None = None  # what a genuine message restores
    order_id: str | None = None
    ghost: tuple[str, str] | None = None  # the record an edited message would make, if unique
    lure: bool = False  # genuine, with unsigned copies beside it: refused or handled as signed


def _orders(seed: str) -> list[tuple[TenantContext, dict[str, Any]]]:
    """The orders to publish, with ids nobody can have hard-coded (they vary per run)."""
    tag = f"{zlib.crc32(seed.encode()):08x}"[:6]
    plan = []
    for tenant, count in PLAN:
        for n in range(count):
            user = tenant.users[n % len(tenant.users)]
            # tenant-c's first order has tenant-a's first order's id: order ids are only
            # unique within a tenant, and a consumer that dedupes by id alone loses one
            letter = "a" if (tenant.id, n) == (TENANTS[2].id, 0) else tenant.id[-1]
            order = {"order_id": f"{tag}-{letter}{n}", "status": "placed",
                     "items": [{"product_id": f"p-{n}", "quantity": n + 1}]}
            plan.append((TenantContext(tenant.id, tenant.tier, user), order))
    return plan


def _order_id(body: str) -> Any:
    order = (detail_of(body) or {}).get("order")
    return order.get("order_id") if isinstance(order, dict) else None


def _drain(lab: Lab, limit: int = 10) -> list[str]:
    """Bodies that reached the order-events queue (received and deleted by the kit)."""
    sqs = lab.client("sqs")
    url = sqs.get_queue_url(QueueName=lab.settings.name(oe.QUEUE))["QueueUrl"]
    bodies: list[str] = []
    for _ in range(limit):
        got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0,
                                  VisibilityTimeout=30).get("Messages", [])
        if not got:
            break
        bodies += [m["Body"] for m in got]
        sqs.delete_message_batch(QueueUrl=url, Entries=[
            {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(got)])
    return bodies


class Tables:
    """``orders_table(credentials)``: the check's table, signed with the given credentials.

    Tables are built from one boto3 session per settings (service models load once: a new
    session per credentials costs a quarter of a second and more) and kept per access key.
    """

    _base: dict[Any, Any] = {}
    _built: dict[tuple[Any, str, str], Any] = {}

    def __init__(self, lab: Lab, name: str) -> None:
        self.lab, self.name = lab, name
        self.closed = False

    def __call__(self, credentials: dict[str, Any]) -> Any:
        if self.closed:
            raise RuntimeError("this check has ended: its table is gone")
        if not isinstance(credentials, dict) or not isinstance(credentials.get("AccessKeyId"),
                                                                str):
            raise TypeError(f"orders_table takes STS credentials (a dict with AccessKeyId, "
                            f"SecretAccessKey, SessionToken), not {short(credentials, 60)}")
        settings = self.lab.settings
        key = (settings, credentials["AccessKeyId"], self.name)
        if key not in self._built:
            base = self._base.setdefault(settings, settings.session())
            self._built[key] = base.resource(
                "dynamodb", aws_access_key_id=credentials["AccessKeyId"],
                aws_secret_access_key=credentials.get("SecretAccessKey"),
                aws_session_token=credentials.get("SessionToken")).Table(self.name)
        return self._built[key]


@exercise(
    "3.3", "tenant context in messages: a signed OrderPlaced", ("publish_order_placed",
                                                                "handle_order_placed"),
    hint="the producer signs canonical(context, order) with the order-events KMS key and puts "
         "context, order and signature in the event's detail; the consumer verifies that "
         "signature before anything else, restores the context from the verified envelope "
         "only, takes that tenant's credentials, writes one record per order, and raises on "
         "anything it refuses.",
    code_hint="consumer: detail = json.loads(body)['detail']; kms.verify(KeyId=SIGNING_KEY, "
              "Message=canonical(detail['context'], detail['order']), Signature=b64decode("
              "detail['signature']), MessageType='RAW', SigningAlgorithm=SIGNING_ALGORITHM)"
              "['SignatureValid'] or raise; ctx = TenantContext(**detail['context']); table = "
              "orders_table(vending.credentials(ctx.tenant_id)); table.put_item(...)",
)
def check_signed_events(publish_order_placed, handle_order_placed, t: Trial) -> None:
    lab = t.lab
    require_enforcement(lab)
    oe.purge(lab.settings)
    scratch = fresh_table(lab, "check-lab3-events")
    audited = lab.settings.embedded  # the audit trail is the embedded gate's
    plan = _orders(f"{lab.identity.pool_id}/{lab.audit_mark() if audited else uuid.uuid4()}")
    genuine = _producer(lab, t, publish_order_placed, plan)
    sent = _hostile(lab, genuine)
    ids = _send(lab, sent)
    mark = lab.audit_mark() if audited else 0
    tables = Tables(lab, scratch.name)
    ledger, problem, wrote = _consume(lab, t, handle_order_placed, tables, sent)
    if problem == "not started":
        tables.closed = True
        raise NotStarted("handle_order_placed still raises NotImplementedError")
    dead = {d.message_id: d for d in oe.dead_letters(lab.settings, ledger)}
    _consumer_cases(lab, t, sent, ids, ledger, dead, problem, scratch.name)
    _lures(t, sent, ids, ledger, {(item.get("pk"), item.get("sk"))
                                  for item in raw_items(lab, scratch.name)})
    _writes(lab, t, sent, ids, ledger, scratch.name, mark)
    with t.case("sent = processed + dead-lettered, every message counted once"):
        processed = set(ledger.processed)
        lost = [sent[ids.index(i)].label for i in ids if i not in processed and i not in dead]
        both = [sent[ids.index(i)].label for i in ids if i in processed and i in dead]
        t.expect(not lost and not both and len(ids) == len(processed & set(ids)) + len(
            set(dead) & set(ids)), f"{len(ids)} sent = processed + dead-lettered",
            f"{len(processed & set(ids))} processed + {len(set(dead) & set(ids))} "
            f"dead-lettered; lost: {lost}; both: {both}",
            hint="a message ends deleted (handled) or in the dead-letter queue; one the handler "
                 "neither finishes nor refuses is lost.")
    records = {(item.get("pk"), item.get("sk")) for item in raw_items(lab, scratch.name)}
    _refused(t, sent, ids, ledger, dead, records, {
        "signed, but for no tenant": "a genuinely signed message with an empty tenant is "
                                     "refused (no credentials, no fallback)",
        "signed, but an order id too long to store": "a genuinely signed message whose record "
                                                     "cannot be written is refused"})
    with t.case("a message the handler refuses changes nothing in the table"):
        t.expect(not wrote, "the table as it was before each refused call",
                 f"refused, yet the table changed: {wrote[:3]}",
                 hint="verify before anything else, and write nothing you would have to undo: "
                      "a claim written first and deleted on refusal (or left behind) is a write "
                      "the forger chose.",
                 code_hint="kms.verify(...) first; then vending.credentials; then put_item")
    if lab.settings.embedded and problem is None:
        _kms_raises(lab, t, handle_order_placed, tables, sent)
    tables.closed = True  # a handler thread still running after its time limit writes nowhere


def _kms_raises(lab: Lab, t: Trial, handle: Callable, tables: Tables, sent: list[Sent]) -> None:
    """On AWS, Verify raises for a bad signature (the emulator answers False): with the lab key
    disabled for a moment, Verify raises (DisabledException), and the consumer must refuse."""
    kms = lab.settings.client("kms")
    key = kms.describe_key(KeyId=alias(lab.settings, oe.SIGNING_KEY))["KeyMetadata"]["KeyId"]
    again = [Sent("KMS raised", m.body) for m in sent if m.label in ("genuine", "tenant edited")]
    again = [again[0], again[-1]]
    with t.case("when kms.verify raises (as AWS does for a bad signature), the message is "
                "refused"):
        ids = _send(lab, again)
        kms.disable_key(KeyId=key)
        try:
            ledger, problem, wrote = _consume(lab, t, handle, tables, again)
        finally:
            kms.enable_key(KeyId=key)
        oe.dead_letters(lab.settings, ledger)
        handled = [m.label for m, i in zip(again, ids, strict=True) if i in ledger.processed]
        t.expect(problem is None and not handled and not wrote,
                 "refused, and nothing written",
                 problem or ("handled (deleted) while KMS raised" if handled else
                             "the table changed"),
                 hint="an error from KMS is not a valid signature: let it raise (or raise "
                      "your own), never catch it and go on.",
                 code_hint="no try/except ClientError around kms.verify")


def _producer(lab: Lab, t: Trial, publish: Callable,
              plan: list[tuple[TenantContext, dict[str, Any]]]) -> list[Sent]:
    with t.case("publish_order_placed puts OrderPlaced on the order-events bus, one per order"):
        for ctx, order in plan:
            t.call(publish, ctx, json.loads(json.dumps(order)),
                   hint="put_events with EventBusName lab.settings.name('order-events'), "
                        "Source 'saas-lab.orders', DetailType 'OrderPlaced' and the envelope "
                        "as Detail (a JSON string).")
        ours = {order["order_id"] for _, order in plan}  # not an earlier run's leftovers
        bodies = [b for b in _drain(lab) if _order_id(b) is None or _order_id(b) in ours]
        t.expect(len(bodies) == len(plan), f"{len(plan)} events in the order-events queue "
                 "(routed by the rule on the bus)", f"{len(bodies)} events",
                 hint="the rule routes only Source 'saas-lab.orders' with DetailType "
                      "'OrderPlaced' on the order-events bus (not the default bus) to the "
                      "queue; one put_events entry per order.",
                 code_hint="events.put_events(Entries=[{'EventBusName': BUS, 'Source': "
                           "SOURCE, 'DetailType': DETAIL_TYPE, 'Detail': json.dumps(envelope)}])")
    by_order = {}
    for body in bodies:
        detail = detail_of(body) or {}
        order, context = detail.get("order"), detail.get("context")
        tenant = context.get("tenant_id") if isinstance(context, dict) else None
        if isinstance(order, dict) and isinstance(order.get("order_id"), str):
            by_order[(tenant, order["order_id"])] = (body, detail)
    genuine = []
    with t.case("each event carries the tenant context and the order"):
        for ctx, order in plan:
            found = by_order.get((ctx.tenant_id, order["order_id"]))
            detail = found[1] if found else None
            context = detail.get("context") if detail else None
            want = asdict(ctx)
            t.expect(isinstance(context, dict) and {k: context.get(k) for k in want} == want
                     and detail.get("order") == order,
                     f"detail with context {want} and the order as given",
                     f"detail {short(detail)}",
                     hint="the envelope is {'context': {'tenant_id', 'tier', 'user'}, 'order': "
                          "the order as given, 'signature': ...}: the consumer has no token, "
                          "only what the event says.",
                     code_hint="context = dataclasses.asdict(ctx)")
            genuine.append(Sent("genuine", found[0], ctx, order["order_id"]))
    with t.case("each event's signature verifies: the order-events key, over canonical(context,"
                " order)"):
        for message in genuine:
            detail = detail_of(message.body) or {}
            t.expect(signature_valid(lab.settings, detail), "a signature KMS verifies with the "
                     "order-events key", f"signature {short(detail.get('signature'), 60)}",
                     hint="sign canonical(context, order) (the same bytes the consumer will "
                          "check) with the order-events key, and put the signature in the "
                          "detail as base64 text.",
                     code_hint="base64.b64encode(kms.sign(KeyId=SIGNING_KEY, Message=canonical("
                               "context, order), MessageType='RAW', SigningAlgorithm="
                               "SIGNING_ALGORITHM)['Signature']).decode()")
    return genuine


def _hostile(lab: Lab, genuine: list[Sent]) -> list[Sent]:
    """The genuine messages, a duplicate, and every message the consumer must refuse."""
    first = genuine[0]  # tenant-a's first order
    other = next(m for m in genuine if m.context and m.context.tenant_id != "tenant-a")
    forged_context = {"tenant_id": "tenant-b", "tier": "advanced", "user": "mallory"}
    forged_order = {"order_id": f"{first.order_id}-forged", "status": "placed", "items": []}
    # the learner's own genuine detail, every name of the lab key in it (a key_id, an ARN, an
    # alias) replaced by the forger key's, and a "key" field besides
    lab_key, forger = alias(lab.settings, oe.SIGNING_KEY), forger_key(lab.settings)
    names = dict(zip(key_names(lab.settings, lab_key), key_names(lab.settings, forger),
                     strict=False))
    detail = renamed(json.loads(first.body)["detail"], names)
    forged = json.dumps({**json.loads(first.body), "detail": {
        **detail, "key": forger.removeprefix("alias/"), "context": forged_context,
        "order": forged_order,
        "signature": signed_with(lab.settings, forger, forged_context, forged_order)}})
    signed = json.loads(first.body)["detail"]

    def resigned(context: dict[str, Any], order: dict[str, Any]) -> str:
        """Genuinely signed with the lab key, by the check: what a correct consumer must
        still refuse when it cannot act on it (no tenant, a record it cannot store)."""
        return json.dumps({**json.loads(first.body), "detail": {
            **signed, "context": context, "order": order,
            "signature": signed_with(lab.settings, lab_key, context, order)}})

    # tenant-a's second order, so that what a lure writes is told apart from the edited ones
    second = genuine[1]
    spoof = {"tenant_id": "tenant-d", "tier": "premium", "user": "mallory"}
    lure_ghost = (tenant_pk("tenant-d"), fulfilment_sk(second.order_id))
    context = signed.get("context") if isinstance(signed.get("context"), dict) else {}
    lures = [
        Sent("detail.tenant_id beside the signed context", edited(second.body, **spoof),
             second.context, second.order_id, lure_ghost, lure=True),
        Sent("detail.tenant beside the signed context",
             edited(second.body, tenant="tenant-d", tenant_tier="premium"), second.context,
             second.order_id, lure_ghost, lure=True),
        Sent("detail.ctx beside the signed context",
             edited(second.body, ctx=spoof, tenant_context=spoof, claims=spoof),
             second.context, second.order_id, lure_ghost, lure=True),
        Sent("a top-level tenant_id after the signed detail",
             json.dumps({**json.loads(second.body), **spoof, "tenant": "tenant-d"}),
             second.context, second.order_id, lure_ghost, lure=True),
    ]
    return [*genuine, Sent("duplicate", first.body, first.context, first.order_id), *lures,
            Sent("signed, but for no tenant",
                 resigned({**context, "tenant_id": ""}, {**first_order(signed),
                                                          "order_id": f"{first.order_id}-x"})),
            Sent("signed, but an order id too long to store",
                 resigned(context, {**first_order(signed), "order_id": "x" * 1100})),
            Sent("tenant edited", edited(first.body, context__tenant_id="tenant-b"),
                 ghost=(tenant_pk("tenant-b"), fulfilment_sk(first.order_id))),
            Sent("tier edited", edited(first.body, context__tier="premium")),
            Sent("order edited", edited(first.body, order__order_id=other.order_id),
                 ghost=(tenant_pk("tenant-a"), fulfilment_sk(other.order_id))),
            Sent("signed with another key", forged,
                 ghost=(tenant_pk("tenant-b"), fulfilment_sk(forged_order["order_id"]))),
            Sent("unsigned", edited(first.body, signature=None)),
            Sent("not JSON", "OrderPlaced tenant-a " + first.order_id),
            Sent("not an event", json.dumps({"order_id": first.order_id}))]


def first_order(detail: dict[str, Any]) -> dict[str, Any]:
    order = detail.get("order")
    return dict(order) if isinstance(order, dict) else {}


def _send(lab: Lab, sent: list[Sent]) -> list[str]:
    sqs = lab.client("sqs")
    url = sqs.get_queue_url(QueueName=lab.settings.name(oe.QUEUE))["QueueUrl"]
    return [sqs.send_message(QueueUrl=url, MessageBody=m.body)["MessageId"] for m in sent]


def _snapshot(table: Any) -> list[str]:
    """The whole table (a boto3 Table of the kit's), attributes and all, as comparable text."""
    items, scan = [], {}
    while True:
        page = table.scan(**scan)
        items += page["Items"]
        if "LastEvaluatedKey" not in page:
            return sorted(json.dumps(item, sort_keys=True, default=str) for item in items)
        scan = {"ExclusiveStartKey": page["LastEvaluatedKey"]}


def _consume(lab: Lab, t: Trial, handle: Callable, tables: Tables, sent: list[Sent]
             ) -> tuple[oe.Ledger, str | None, list[str]]:
    """The kit's consumer loop over the learner's handler, each call with a time limit; the
    whole table is read after each call, so a refused call that wrote (and maybe undid part of
    it) shows, whatever credentials it wrote with."""
    state: dict[str, Any] = {"handled": 0}
    label = {}
    for message in sent:
        label.setdefault(message.body, message.label)
    wrote: list[str] = []
    kit = kit_table(lab, tables.name)  # one resource for every read: building one costs
    before = [_snapshot(kit)]

    def orders_table(credentials: dict[str, Any]) -> Any:  # a plain function, as in the lab
        return tables(credentials)

    def refused(body: str, why: str) -> RuntimeError:
        after = _snapshot(kit)
        if after != before[0]:
            wrote.append(label.get(body, "a message"))
        before[0] = after
        return RuntimeError(why)

    def call(fn: Callable, body: str) -> Any:
        try:
            value = call_with_timeout(fn, body, orders_table, timeout=t.timeout)
        except NotStarted as stub:
            # a stub only when the very first genuine message meets it; later, it is how
            # this handler refuses a message (an event type it does not handle, say)
            if not state["handled"] and label.get(body) == "genuine":
                state["problem"] = "not started"
                raise oe.StopConsuming() from None
            raise refused(body, f"NotImplementedError: {stub}") from None
        except TimedOut as slow:
            state["problem"] = f"your function {slow}"
            raise oe.StopConsuming() from None
        except Raised as raised:
            raise refused(body, f"{raised}{raised.where}") from None
        state["handled"] += 1
        before[0] = _snapshot(kit)
        return value

    ledger = oe.consume(lab.settings, handle, call=call)
    return ledger, state.get("problem"), wrote


def _consumer_cases(lab: Lab, t: Trial, sent: list[Sent], ids: list[str], ledger: oe.Ledger,
                    dead: dict[str, oe.DeadLetter], problem: str | None, table: str) -> None:
    processed = set(ledger.processed)
    records = {(item.get("pk"), item.get("sk")) for item in raw_items(lab, table)}
    with t.case("every genuine message is processed (deleted), the duplicate too"):
        t.expect(problem is None, "the handler returns for every message", problem or "",
                 hint="look for a call that waits forever (a receive with a wait, a missing "
                      "timeout).")
        for message, message_id in zip(sent, ids, strict=True):
            if message.context is None or message.lure:
                continue
            t.expect(message_id in processed, f"the {message.label} message of "
                     f"{message.context.tenant_id} ({message.order_id}) handled",
                     f"refused: {ledger.reason(message_id)}",
                     hint="a genuine message must be handled, and a duplicate is genuine too "
                          "(SQS delivers at least once): write one record per order (the same "
                          "key), so handling it twice changes nothing. AccessDenied means the "
                          "write used credentials of another tenant than the message's. A "
                          "signature refused here: verify through kms.verify with MessageType "
                          "'RAW' (the emulator has no 'DIGEST', and its PSS salt is not AWS's, "
                          "so an offline check with the public key fails here).",
                     code_hint="orders_table(vending.credentials(ctx.tenant_id)).put_item("
                               "Item={'pk': tenant_pk(ctx.tenant_id), 'sk': fulfilment_sk("
                               "order['order_id']), ...})")
    with t.case("the handler returns the context it restored from the verified envelope"):
        for message, message_id in zip(sent, ids, strict=True):
            if message.context is None or message.lure:
                continue
            got = ledger.results.get(message_id)
            t.expect(got == message.context, f"{message.context}", short(got),
                     hint="return TenantContext(**detail['context']) of the verified envelope: "
                          "tenant, tier and user, as the producer signed them.")
    hostile = {
        "tenant edited": "a message whose tenant was edited after signing is refused",
        "tier edited": "a message whose tier was edited after signing is refused",
        "order edited": "a message whose order was edited after signing is refused",
        "signed with another key": "a message signed with another KMS key of the account is "
                                   "refused",
        "unsigned": "an event without a signature is refused",
        "not JSON": "a message that is not JSON (poison) ends in the dead-letter queue",
        "not an event": "a JSON message that is not an event ends in the dead-letter queue",
    }
    _refused(t, sent, ids, ledger, dead, records, hostile)


def _refused(t: Trial, sent: list[Sent], ids: list[str], ledger: oe.Ledger,
             dead: dict[str, oe.DeadLetter], records: set[tuple[Any, Any]],
             hostile: dict[str, str]) -> None:
    processed = set(ledger.processed)
    labels = [m.label for m in sent]
    for label, name in hostile.items():
        message_id = ids[labels.index(label)]
        with t.case(name):
            t.expect(message_id not in processed, "refused: the handler raises",
                     f"handled (deleted); it returned {short(ledger.results.get(message_id))}",
                     hint=FAIL_CLOSED if label.startswith("signed,") else
                     REFUSE if "signed" in name or "edited" in name else
                     "a message the handler cannot read must raise, not be skipped: "
                     "skipped is deleted, and nobody ever learns it was lost.",
                     code_hint="the key is the lab's (SIGNING_KEY), never one the message "
                               "names; if not answer['SignatureValid']: raise PermissionError("
                               "...)" if "signed" in name or "edited" in name else
                     "no try/except around json.loads(body)['detail']")
            ghost = sent[labels.index(label)].ghost
            t.expect(ghost is None or ghost not in records,
                     f"no record {ghost} (the key the edited message names)",
                     f"{ghost} was written", hint=REFUSE,
                     code_hint="verify first: no write before kms.verify said SignatureValid")
            letter = dead.get(message_id)
            t.expect(letter is not None and bool(letter.reason),
                     "in the dead-letter queue, with the reason it was refused",
                     "not in the dead-letter queue" if letter is None else "no reason recorded")


def _lures(t: Trial, sent: list[Sent], ids: list[str], ledger: oe.Ledger,
           records: set[tuple[Any, Any]]) -> None:
    """Genuine messages with unsigned tenant copies beside the signed context: refusing them
    is fine, acting on a copy is not."""
    with t.case("a genuine message with unsigned tenant copies beside it (detail.tenant_id, "
                "detail.tenant, detail.ctx, a top-level tenant_id) acts as signed, or is "
                "refused"):
        for message, message_id in zip(sent, ids, strict=True):
            if not message.lure:
                continue
            got = ledger.results.get(message_id, message.context)
            t.expect(got == message.context and message.ghost not in records,
                     f"{message.context} and no record {message.ghost}",
                     f"{message.label}: returned {short(got)}; "
                     + ("the record was written" if message.ghost in records else "no record"),
                     hint="only the signed envelope speaks: every other field of the message "
                          "is something anyone could have added after signing. Restore the "
                          "context from detail['context'] of the verified envelope, nothing "
                          "else.",
                     code_hint="ctx = TenantContext(**detail['context']) after kms.verify; no "
                               ".get('tenant_id', ...) fallbacks, no search in the raw body")


def _writes(lab: Lab, t: Trial, sent: list[Sent], ids: list[str], ledger: oe.Ledger,
            table: str, mark: int) -> None:
    records = raw_items(lab, table)  # every item: nothing but one record per order is written
    name = "each write ran under its tenant's session (the audit trail)"
    if not lab.settings.embedded:
        t.skip(name, "the audit trail belongs to the embedded emulator's IAM gate")
    else:
        _audited_writes(lab, t, name, records, table, mark)
    _records(t, sent, records)


def _audited_writes(lab: Lab, t: Trial, name: str, records: list[dict[str, Any]], table: str,
                    mark: int) -> None:
    with t.case(name):
        events = [e for e in lab.audit(since=mark) if e.get("action") in WRITES
                  and str(e.get("resource", "")).endswith(f":table/{table}")
                  and e.get("decision") == "allow"]
        for event in events:
            keys = event.get("leading_keys") or []
            tenant = event.get("tenant")
            t.expect(tenant is not None and keys == [tenant_pk(tenant)] and
                     ":assumed-role/" in str(event.get("principal")),
                     "every write by a session tagged with the tenant whose partition it writes",
                     f"{event['action']} of {keys} by {event.get('principal')} (TenantID "
                     f"{tenant})",
                     hint="take the tenant's credentials (the vending machine, with the tenant "
                          "of the verified context) before touching data: the service's broad "
                          "role can write any partition, a tenant's session only its own.",
                     code_hint="orders_table(vending.credentials(ctx.tenant_id))")
        audited = Counter((e.get("leading_keys") or [""])[0] for e in events)
        unaudited = [item["pk"] for item in records if not audited.get(item["pk"])]
        t.expect(not unaudited, "every record written by a tenant's session the account saw",
                 f"records in {sorted(set(unaudited))} that no tenant session wrote",
                 hint="the kit's own (administrator) credentials leave no trace in the audit "
                      "trail and may write anywhere: write with the tenant's credentials.",
                 code_hint="orders_table(vending.credentials(ctx.tenant_id))")


def _records(t: Trial, sent: list[Sent], records: list[dict[str, Any]]) -> None:
    with t.case("one record per order, under its tenant's partition (the duplicate adds none)"):
        want = Counter((tenant_pk(m.context.tenant_id), fulfilment_sk(m.order_id))
                       for m in sent if m.label == "genuine" and m.context and m.order_id)
        got = Counter((item.get("pk"), item.get("sk")) for item in records)
        t.expect(got == want, f"{len(want)} records: {sorted(sk for _, sk in want)[:3]} ...",
                 f"missing {sorted(want - got)[:3]}, extra {sorted(got - want)[:3]}",
                 hint="key the record by the order (pk TENANT#<tenant>, sk FULFILMENT#<order "
                      "id>): the duplicate then overwrites it, and nothing else is written.",
                 code_hint="Item={'pk': tenant_pk(ctx.tenant_id), 'sk': fulfilment_sk(order["
                           "'order_id']), 'order_id': order['order_id'], 'status': 'queued'}")
