"""Check 6.4: each order's payment status, visible to its own tenant only.

The check plants payment records of several tenants (order ids that repeat across tenants,
a tenant whose name extends another's) with the kit's own client and asks the learner's reader
as one tenant. The table it hands over is signed with a session of the check's own, so the
audit trail says how the reader read: one item of the caller's partition, never a Scan.
"""

from __future__ import annotations

from typing import Any

from environment.app.partners.records import payment_key

from ..framework import Trial, exercise, short
from ..scratch import ScratchTable
from ..shapes import looks_like_dynamodb_json
from .common import audited_table, ctx

ONE_ITEM = frozenset({"GetItem", "Query", "DescribeTable"})
OWN = ("read the record at the caller's own key (TENANT#<ctx.tenant_id> / PAYMENT#<order id>): "
       "the tenant comes from the context, and another tenant's order with the same id is not "
       "this tenant's business.")

# (tenant, order, status) planted for the check; o-5001 exists for three tenants.
PLANTED = [("tenant-a", "o-5001", "paid"), ("tenant-b", "o-5001", "failed"),
           ("tenant-aa", "o-5001", "pending"), ("tenant-a", "o-5002", "pending"),
           ("tenant-a", "o-5003", "failed"), ("tenant-b", "o-5009", "paid"),
           ("tenant-k2", "o-5004", "paid")]
# Records of tenant-a that sort before its o-5001 and fill more than one page of a Query (1 MB):
# a reader that queries the partition and filters reads only the first page.
PADDING = [(f"o-0{n:03d}", "pending") for n in range(3)]
PAD = "x" * 350_000

ASKED = [("tenant-a", "o-5001", "paid"), ("tenant-b", "o-5001", "failed"),
         ("tenant-aa", "o-5001", "pending"), ("tenant-a", "o-5002", "pending"),
         ("tenant-a", "o-5003", "failed"), ("tenant-k2", "o-5004", "paid")]


def record(tenant: str, order: str, status: str, note: str = "") -> dict[str, Any]:
    item = {**payment_key(tenant, order), "tenant_id": tenant, "order_id": order,
            "idempotency_key": f"k-{tenant}-{order}", "status": status}
    if note:
        item["note"] = note
    if status == "paid":
        item["charge_id"] = f"ch_{order[-4:]}"
    if status == "failed":
        item["reason"] = "503: the partner is down"
    return item


def one_item_read(t: Trial, scratch: ScratchTable, mark: int, asked: str, sent: str) -> None:
    """A case of its own: how the reader read, from the account's audit trail."""
    if not scratch.observed:
        t.skip(f"{asked}: one item read", "only the embedded emulator has an audit trail")
        return
    calls = scratch.calls_since(mark)
    with t.case(f"{asked}: one item read, no Scan"):
        t.expect(set(calls) <= ONE_ITEM and bool(calls), "GetItem (or a Query of the partition)",
                 f"calls {dict(calls) or 'none on this table'}", sent=sent,
                 hint="a Scan reads every tenant's payments to find one; the key is known.")


@exercise("6.4", "payment status, for its own tenant only", ("payment_status",),
          hint="return the status ('pending', 'paid' or 'failed') stored in the record of the "
               "caller's tenant for that order, and None when that tenant has no such payment.",
          code_hint="item = table.get_item(Key={'pk': f'TENANT#{ctx.tenant_id}', 'sk': "
                    "f'PAYMENT#{order_id}'}).get('Item'); return item['status'] if item else "
                    "None")
def check_status(payment_status: Any, t: Trial) -> None:
    scratch = audited_table(t.lab, "payment-records")  # a name that says nothing of a check
    scratch.put_many([record(*planted) for planted in PLANTED]
                     + [record("tenant-a", order, status, PAD) for order, status in PADDING])
    for tenant, order, status in ASKED:
        sent = f"payment_status(table, {ctx(tenant)}, {order!r})"
        with t.case(f"{tenant} asks for {order}: its own status"):
            mark = scratch.mark()
            got = t.call(payment_status, scratch.table, ctx(tenant), order)
            if looks_like_dynamodb_json(got):
                t.expect(False, f"the plain string {status!r}", short(got), sent=sent,
                         hint="the low-level client returns typed values ({'S': ...}); use "
                              "the Table you were given.")
            if isinstance(got, dict):
                t.expect(False, f"the status itself ({status!r}), a str", short(got), sent=sent,
                         hint="return item['status'], not the item or the response.")
            t.expect(got == status, repr(status), short(got), sent=sent, hint=OWN)
        one_item_read(t, scratch, mark, f"{tenant} asks for {order}", sent)
    for tenant, order in (("tenant-a", "o-5009"), ("tenant-zz", "o-5001"),
                          ("tenant-a", "o-5999"), ("tenant-a", "o-500")):
        sent = f"payment_status(table, {ctx(tenant)}, {order!r})"
        with t.case(f"{tenant} asks for {order}, which it does not have: None"):
            mark = scratch.mark()
            got = t.call(payment_status, scratch.table, ctx(tenant), order,
                         hint="no record for this tenant and order means no payment: return "
                              "None (a missing item is not an error).")
            t.expect(got is None, "None", short(got), sent=sent,
                     hint="'pending' would promise a payment that nobody will make; another "
                          "tenant's status is not this tenant's business. " + OWN)
        one_item_read(t, scratch, mark, f"{tenant} asks for {order}", sent)
    with t.case("a status that changed is read afresh"):
        scratch.put_many([record("tenant-a", "o-5002", "paid"), record("tenant-a", "o-5003",
                                                                      "paid")])
        got = [t.call(payment_status, scratch.table, ctx("tenant-a"), order)
               for order in ("o-5002", "o-5003")]
        t.expect(got == ["paid", "paid"], "['paid', 'paid'] (they were 'pending' and 'failed' "
                 "when you last read them)", short(got),
                 sent="payment_status(table, tenant-a, 'o-5002') and (..., 'o-5003') after the "
                      "worker paid one and a redrive paid the other",
                 hint="a status changes while the tenant watches, even 'failed' (a redrive "
                      "pays it): read it from the table on every call, never from a cache of "
                      "your own.")
