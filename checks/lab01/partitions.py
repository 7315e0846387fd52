"""Checks 1.5 and 1.6: partition orders by tenant, and write sharding for a hot tenant.

What learner code wrote is read back with the kit's own client and compared as
multisets of keys and attributes; how it read is taken from the account's
audit trail (any client, any API), and what it returned is compared as a
multiset, so duplicates, foreign rows and missing pages all show.
"""

from __future__ import annotations

import uuid
from collections import Counter
from typing import Any

from environment.app.context import TenantContext

from ..framework import CaseFailed, Trial, exercise, short
from ..fresh_process import call_elsewhere, unused_ids
from ..salted_hash import hash_resalted
from ..scratch import PARTITION_READS, ScratchTable, fresh_table, raw_items
from ..shapes import describe_difference, field_values

PAGE_FILLER = "x" * 50_000  # 21 such orders pass DynamoDB's 1 MB page: one Query is not enough
HUGE_FILLER = "y" * 380_000  # near DynamoDB's 400 KB item limit: 2 to 3 orders a page
SCAN_HINT = ("a Scan reads every tenant's items and filters afterwards (so does a PartiQL SELECT "
             "whose WHERE does not pin the partition key); in lab 2 the tenant's role may Query "
             "its own keys and nothing else, PartiQL included. Query the tenant's partition key.")


def stored(tenant_id: str, order_id: str, pk: str | None = None, **extra: Any) -> dict:
    return {"pk": pk or f"TENANT#{tenant_id}", "sk": f"ORDER#{order_id}",
            "order_id": order_id, "tenant_id": tenant_id, **extra}


def listed_by(t: Trial, fn, args: tuple, table: ScratchTable, reader: str, shards: int = 1
              ) -> Any:
    """Call a learner reader in its own case and judge how it read, from the audit trail."""
    with t.case(f"{reader} reads with Query only"):
        mark = table.mark()
        failed: CaseFailed | None = None
        try:
            result = t.call(fn, table.table, *args)
        except CaseFailed as error:
            failed, result = error, None
        used = table.calls_since(mark)
        wide = {a: n for a, n in used.items() if a not in PARTITION_READS}
        t.expect(not wide, "Queries on the tenant's partition keys",
                 f"the account saw {dict(used)}", hint=SCAN_HINT,
                 code_hint="table.query(KeyConditionExpression=Key('pk').eq(...)), following "
                           "LastEvaluatedKey until it is absent.")
        if failed is not None:
            raise failed
        if not table.observed:
            t.skip(f"{reader} reads with Query only", "only the embedded emulator has an audit "
                   "trail")
        else:
            t.expect(used["Query"] >= shards,
                     f"at least {shards} Query call(s) with the table you were given",
                     f"the account saw {dict(used) or 'no calls'} with it",
                     hint="read through the table object you were given (not another client), "
                          "with one Query per partition key of the tenant.")
    return result


def expect_multiset(t: Trial, result: Any, want: Counter[str], whose: str, hint: str,
                    code_hint: str = "") -> None:
    got = field_values(t, result, "order_id", "orders")
    t.expect(got == want, f"{sum(want.values())} orders, each once, all {whose}",
             describe_difference(want, got, whose), hint=hint, code_hint=code_hint)


@exercise(
    "1.5", "partition orders by tenant", ("save_order", "list_orders"),
    hint="the partition key carries the tenant from the context and the sort key the order; "
         "the context wins over anything inside the order (tenant_id, pk, sk). List with one "
         "exact-key Query on the tenant's partition, page after page, never a Scan.",
    code_hint="put_item(Item={**order, 'tenant_id': ctx.tenant_id, 'pk': "
              "f'TENANT#{ctx.tenant_id}', 'sk': f\"ORDER#{order['order_id']}\"}); list with "
              "table.query(KeyConditionExpression=Key('pk').eq(f'TENANT#{ctx.tenant_id}')) and "
              "loop while 'LastEvaluatedKey' is in the page (ExclusiveStartKey=...).",
)
def check_partitioning(save_order, list_orders, t: Trial) -> None:
    lab = t.lab
    orders = fresh_table(lab, "check-orders")
    a, b = TenantContext("tenant-a", "basic", "alice"), TenantContext("tenant-b", "advanced", "bob")
    lookalike = TenantContext("tenant-aa", "basic", "eve")  # shares a prefix with tenant-a
    plan = [(a, "o-1"), (b, "o-1"), (a, "o-2"), (lookalike, "o-5"), (b, "o-4"), (a, "o-3")]
    for ctx, order_id in plan:
        with t.case(f"save order {order_id} as {ctx.tenant_id}"):
            t.call(save_order, orders.table, ctx,
                   {"order_id": order_id, "items": [], "note": f"note of {order_id}"})
    with t.case("an order whose body claims tenant_id 'tenant-b', saved as tenant-a"):
        t.call(save_order, orders.table, a, {"order_id": "o-6", "tenant_id": "tenant-b"})
    with t.case("an order that carries pk/sk of tenant-b, saved as tenant-a"):
        t.call(save_order, orders.table, a, {"order_id": "o-7", "pk": "TENANT#tenant-b",
                                              "sk": "ORDER#o-1", "items": []})
    _judge_what_was_written(t, raw_items(lab, orders.name), plan, [(a, "o-6"), (a, "o-7")])
    big = [f"o-big-{n:02d}" for n in range(22)]  # 1.1 MB: two pages
    huge = [f"o-huge-{n:02d}" for n in range(20)]  # 7.6 MB: eight pages
    orders.put_many([stored("tenant-a", o, note=PAGE_FILLER) for o in big]
                    + [stored("tenant-b", o, note=HUGE_FILLER) for o in huge]
                    + [stored("tenant-a", "o-archived", pk="ARCHIVE#tenant-a")])
    expected = {"tenant-a": Counter(["o-1", "o-2", "o-3", "o-6", "o-7", *big]),
                "tenant-b": Counter(["o-1", "o-4", *huge]), "tenant-aa": Counter(["o-5"])}
    for ctx in (a, b, lookalike):
        _lists_exactly(t, list_orders, ctx, orders, expected[ctx.tenant_id])
    # Orders written since (by this process and by another one): a fresh read sees them.
    with t.case("save order o-8 as tenant-aa after listing"):
        t.call(save_order, orders.table, lookalike, {"order_id": "o-8", "items": []})
    orders.put_many([stored("tenant-aa", "o-9"), stored("tenant-a", "o-10")])
    expected["tenant-aa"].update(["o-8", "o-9"])
    expected["tenant-a"].update(["o-10"])
    for ctx in (lookalike, a):
        _lists_exactly(t, list_orders, ctx, orders, expected[ctx.tenant_id], " again")


def _lists_exactly(t: Trial, list_orders, ctx: TenantContext, orders: ScratchTable,
                   want: Counter[str], again: str = "") -> None:
    listed = listed_by(t, list_orders, (ctx,), orders, f"list_orders as {ctx.tenant_id}{again}")
    with t.case(f"list_orders as {ctx.tenant_id}{again} returns exactly its own orders"):
        expect_multiset(
            t, listed, want, f"{ctx.tenant_id}'s",
            hint="one exact-key Query on the tenant's partition, every page of it (however "
                 "many), read afresh on every call: 'TENANT#tenant-a' is a prefix of "
                 "'TENANT#tenant-aa', a tenant_id attribute is not a partition, a page holds "
                 "at most 1 MB, and orders written since the last call must show.")
        items = list(listed) if isinstance(listed, list | tuple) else []
        partial = [item for item in items if not isinstance(item, dict)
                   or item.get("tenant_id") != ctx.tenant_id or "pk" not in item]
        t.expect(not partial, "each order as stored, with all its attributes",
                 f"items such as {short(partial[:1], 100)}",
                 hint="return the items the Query gave you, whole: callers need every "
                      "attribute of an order, not a projection of it.")


def _judge_what_was_written(t: Trial, items: list[dict], plan: list[tuple], lures: list[tuple]
                            ) -> None:
    keys = Counter((item.get("pk"), item.get("sk")) for item in items)
    planned = Counter((f"TENANT#{c.tenant_id}", f"ORDER#{order_id}") for c, order_id in plan)
    want = planned + Counter((f"TENANT#{c.tenant_id}", f"ORDER#{o}") for c, o in lures)
    with t.case("the keys follow TENANT#<tenant> / ORDER#<order>"):
        t.expect(all(key in keys for key in planned),
                 "items keyed pk TENANT#<tenant>, sk ORDER#<order id>",
                 f"keys {sorted(map(str, keys))[:4]}...",
                 hint="the partition key carries the tenant, the sort key the order.")
    with t.case("the context wins over a tenant_id inside the order"):
        o6 = [i for i in items if i.get("sk") == "ORDER#o-6"]
        t.expect(len(o6) == 1 and o6[0].get("pk") == "TENANT#tenant-a"
                 and o6[0].get("tenant_id") == "tenant-a",
                 "o-6 stored under TENANT#tenant-a with tenant_id tenant-a", short(o6),
                 hint="copy the order first, then set the tenant from ctx, so ctx wins.")
    with t.case("an order's own pk and sk do not choose where it is written"):
        t.expect(keys == want, f"exactly these items: {sorted(want)}",
                 f"{sorted(keys - want) or 'nothing extra'} written, "
                 f"{sorted(want - keys) or 'nothing'} missing",
                 hint="mass assignment: keys computed from ctx must overwrite whatever the "
                      "order dict carries, never the other way round.")
    with t.case("every stored order records its tenant_id and order_id"):
        for item in items:
            tenant = str(item.get("pk", "")).removeprefix("TENANT#")
            order = str(item.get("sk", "")).removeprefix("ORDER#")
            t.expect(item.get("tenant_id") == tenant and item.get("order_id") == order,
                     f"tenant_id {tenant!r} and order_id {order!r} in the item", short(item),
                     hint="store the order's own attributes plus tenant_id from the context.")
    with t.case("every stored order keeps the order's own attributes"):
        for ctx, order_id in plan:
            item = next((i for i in items if i.get("pk") == f"TENANT#{ctx.tenant_id}"
                         and i.get("sk") == f"ORDER#{order_id}"), {})
            t.expect(item.get("note") == f"note of {order_id}" and item.get("items") == [],
                     f"the order's items and note kept in {order_id} of {ctx.tenant_id}",
                     short(item), hint="store every attribute of the order (the context only "
                                       "adds tenant_id and the keys, and wins over them).")


class ResaltedBytes(bytes):
    """The same bytes with another hash() (bytes hashes are salted per process too)."""

    def __hash__(self) -> int:
        return hash(b"resalted:" + bytes(self)[::-1])


class Resalted(str):
    """The same text with another hash(): what the string would hash to in another process."""

    def __hash__(self) -> int:
        return hash("resalted:" + str(self)[::-1])

    def encode(self, *args: Any, **kwargs: Any) -> bytes:
        return ResaltedBytes(str.encode(self, *args, **kwargs))


def order_ids(tenant_id: str, count: int, style: str) -> list[str]:
    """Order ids of one style: numbered, UUIDs or words (no digits), so no parsing fits all."""
    if style == "uuid":
        return [str(uuid.uuid5(uuid.NAMESPACE_URL, f"{tenant_id}/{n}")) for n in range(count)]
    if style == "words":
        letters = "abcdefghijklmnopqrstuvwxyz"
        return ["order-" + "".join(letters[(n * 7919 + k * 31) // 26 ** k % 26]
                                   for k in range(4)) + "-" + letters[n % 26]
                for n in range(count)]
    return [f"{tenant_id}-order-{n:03d}" for n in range(count)]


@exercise(
    "1.6", "write sharding for a hot tenant", ("sharded_pk", "query_all_shards"),
    hint="pick the shard from a stable hash of the order id (the same in every process, so not "
         "hash()), modulo the shard count you are given; read back with one paginated Query "
         "per shard, for every shard the count implies, and concatenate.",
    code_hint="shard = int(hashlib.sha256(order_id.encode()).hexdigest(), 16) % shards; "
              "pk = f'TENANT#{tenant_id}#{shard}'; read with Key('pk').eq(...) for shard in "
              "range(shards), following LastEvaluatedKey (a ThreadPoolExecutor makes it a "
              "parallel fan-out).",
)
def check_sharding(sharded_pk, query_all_shards, t: Trial) -> None:
    lab = t.lab
    orders = fresh_table(lab, "check-sharded-orders")
    # (tenant, orders, shards, filler): counts and shard counts vary, so no constant fits
    population = [("tenant-c", 160, 12, "", "words"), ("tenant-a", 44, 2, PAGE_FILLER, "uuid"),
                  ("tenant-cc", 9, 5, "", "numbered")]
    written: dict[str, Counter[str]] = {}
    spread: Counter[str] = Counter()
    for tenant_id, count, shards, filler, style in population:
        with t.case(f"sharded_pk for {count} orders of {tenant_id} over {shards} shards"):
            ids = order_ids(tenant_id, count, style)
            written[tenant_id] = Counter(ids)
            keys = _sharded(t, sharded_pk, tenant_id, ids, shards)
            if tenant_id == "tenant-c":
                spread.update(keys)
            orders.put_many([stored(tenant_id, order_id, pk=pk,
                                    **({"note": filler} if filler else {}))
                             for order_id, pk in zip(ids, keys, strict=True)])
    _same_in_another_process(t, sharded_pk)
    with t.case(f"160 orders of tenant-c spread over all {population[0][2]} shards"):
        shards = population[0][2]
        t.expect(len(spread) == shards and max(spread.values()) <= 2.5 * 160 / shards,
                 f"every shard used, none with more than {2.5 * 160 / shards:.0f} orders",
                 dict(sorted(spread.items())),
                 hint="a good hash spreads evenly; a cryptographic hash of the order id does.")
    # Written by "another process": sharded_pk never saw these, the reader must still find them.
    elsewhere = [stored("tenant-e", f"e-{k}-{n}", pk=f"TENANT#tenant-e#{k}")
                 for k in (0, 1, 3) for n in range(3)]  # shard 2 empty: read past it
    orders.put_many(elsewhere)
    written["tenant-e"] = Counter(item["order_id"] for item in elsewhere)
    readings = [(p[0], p[2], "") for p in population] + [("tenant-e", 4, ""),
                                                          ("tenant-e", 4, " again")]
    for tenant_id, shards, again in readings:
        if again:  # more orders since the last reading: a remembered answer is stale
            more = [stored("tenant-e", f"e-late-{k}", pk=f"TENANT#tenant-e#{k}") for k in (0, 3)]
            orders.put_many(more)
            written["tenant-e"].update(item["order_id"] for item in more)
        reader = f"query_all_shards for {tenant_id} over {shards} shards{again}"
        found = listed_by(t, query_all_shards, (tenant_id, shards), orders, reader, shards)
        with t.case(f"query_all_shards reads back every order of {tenant_id}{again}"):
            expect_multiset(
                t, found, written[tenant_id], f"{tenant_id}'s",
                hint="query TENANT#<tenant>#<n> for every n below the shard count you are "
                     "given (not a count remembered by this process), with an exact key, and "
                     "follow each shard's pages, afresh on every call.")


def _sharded(t: Trial, sharded_pk, tenant_id: str, ids: list[str], shards: int
             ) -> list[str]:
    """The learner's key for every order, asked twice (one worker thread per pass, not per key)."""
    def every_key() -> list:
        return [sharded_pk(tenant_id, order_id, shards) for order_id in ids]

    first, again = t.call(every_key), t.call(every_key)
    for order_id, pk, repeated in zip(ids, first, again, strict=True):
        prefix, _, suffix = str(pk).rpartition("#")
        t.expect(isinstance(pk, str) and prefix == f"TENANT#{tenant_id}" and suffix.isdecimal()
                 and 0 <= int(suffix) < shards,
                 f"TENANT#{tenant_id}#<0..{shards - 1}>", pk, sent=order_id,
                 hint="the shard is a number below the shard count you are given.")
        t.expect(repeated == pk, "the same key every time for the same order",
                 f"{pk!r}, then {repeated!r}", sent=order_id,
                 hint="pick the shard from a hash of the order id, not at random or by turns.")
    return first


def _same_in_another_process(t: Trial, sharded_pk) -> None:
    name = "sharded_pk gives every order the same shard in a fresh Python process"
    with t.case(name):
        # ids never asked about before (a cache shipped along cannot know them), asked there
        # first; then here, with strings re-salted (as text, and through hash() itself)
        ids = unused_ids(27, "fresh-order") + order_ids("fresh", 13, "words")
        calls = [["tenant-c", order_id, 12] for order_id in reversed(ids)]
        there = call_elsewhere(sharded_pk, calls, timeout=t.timeout)
        here = [str(t.call(sharded_pk, *call)) for call in calls]
        with hash_resalted([sharded_pk]):
            salted = [str(t.call(sharded_pk, *call)) for call in calls]
        if salted == here:
            salted = [str(t.call(sharded_pk, "tenant-c", Resalted(order_id), 12))
                      for order_id in reversed(ids)]
        hint = ("hash() of a string changes from one Python process to the next, and so does "
                "anything a process remembers; writer and reader must agree forever.")
        t.expect(salted == here, "a shard that depends only on the order id's text",
                 "another shard when the string's hash() changes", hint=hint,
                 code_hint="use hashlib (e.g. sha256 of order_id.encode()), not hash().")
        if there is None:
            t.skip(name, "your function could not be run in another process")
            return
        moved = sum(a != b for a, b in zip(here, there, strict=True))
        t.expect(moved == 0, "the same 40 keys in both processes",
                 f"{moved} of 40 orders in another shard there", hint=hint,
                 code_hint="use hashlib (e.g. sha256 of order_id.encode()), not hash().")
