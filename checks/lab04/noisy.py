"""Checks 4.4 and 4.5: queues against a noisy neighbour, and shuffle sharding's blast radius.

The learner writes where a tenant's messages go; the kit's seeded model of queues and consumers
(``environment.app.queueing``) says what that does to quiet tenants. The check judges the
functions where the space is small enough to enumerate (every shard of 5 queues against many
backlogs), varies what a constant would fix (queue and cell counts, k), asks a fresh Python
process (a placement that moves between processes moves a tenant's messages), and then runs the
model with the learner's functions: no message may be lost, and under shuffle sharding exactly
the quiet tenants with nowhere else to go may suffer.
"""

from __future__ import annotations

import decimal
import itertools
import math
import numbers
import random
import re
from collections import Counter
from collections.abc import Callable
from typing import Any

from environment.app.queueing import experiment
from environment.app.queueing.model import simulate

from ..framework import Trial, exercise, short
from ..fresh_process import call_elsewhere, unused_ids
from ..salted_hash import hash_resalted

QUEUE_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")
LOOKALIKES = ["tenant-a", "tenant-aa", "tenant-a-a", "tenant-a_a", "tenant-b", "tenant-c",
              "tenant-d", "tenant-4c1f9e0a-7d2b-4f7e-9a55-0c3e8b1d2f6a", "t", "Tenant-A",
              "TENANT-A", "tenant-A"]
MANY = [f"tenant-{n:04d}" for n in range(300)]
# Tenant ids are case-sensitive: Acme-07 and acme-07 are two customers.
CASED = [f"{name}-{n:02d}" for n in range(20) for name in ("Acme", "acme")]
SPREAD = [f"tenant-{n:04d}" for n in range(1000)]
# Pairs of tenants whose ids look alike (same suffix, same prefix, anagrams): a placement seeded
# from part of the id, or from its letters in any order, puts such pairs on the same shard.
PAIRS = ([(f"tenant-{n:04d}", f"shop-{n:04d}") for n in range(20)]
         + [(f"acme-{n:02d}-eu", f"acme-{n:02d}-us") for n in range(20)]
         + [(f"tenant-{a}{b}", f"tenant-{b}{a}")
            for a, b in zip("abcdefghijklmnopqrst", "uvwxyz0123456789ABCD", strict=True)]
         + [(f"Acme-{n:02d}", f"acme-{n:02d}") for n in range(20)])
STABLE = ("hash() of a string changes from one Python process to the next, random choices "
          "change on every call, and what a process remembers (a cache of answers, the order "
          "tenants arrived in) starts empty in the next one: producers in other processes (and "
          "tomorrow's deployment) must put a tenant in the same place.")
STABLE_CODE = ("derive it from hashlib (e.g. int.from_bytes(hashlib.sha256(tenant_id.encode())"
               ".digest()[:8], 'big')), not hash() and not an unseeded random.")


def _is_int(value: Any) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _same_elsewhere(t: Trial, fn: Callable, rest: list[Any], what: str) -> None:
    """The learner's answers in a fresh process, here, and here with strings hashed as in
    another process, agree.

    The tenants are ones the check never asked about before, and the fresh process is asked
    first (in reverse order): a cache of answers travels with the function, but cannot hold
    these, so an answer remembered by a process (hash(), a random draw, the order of
    arrival) shows up as a move.
    """
    name = f"{what} is the same in a fresh Python process"
    with t.case(name):
        calls = [[tenant, *rest] for tenant in unused_ids(40)]
        there = call_elsewhere(fn, list(reversed(calls)), timeout=t.timeout)
        here = t.call(lambda: [str(fn(*call)) for call in calls])
        with hash_resalted([fn]):
            salted = t.call(lambda: [str(fn(*call)) for call in calls])
        t.expect(salted == here, f"{what} that depends only on the tenant id's text",
                 "other answers when the string's hash() changes", hint=STABLE,
                 code_hint=STABLE_CODE)
        if there is None:
            t.skip(name, "your function could not be run in another process")
            return
        moved = sum(a != b for a, b in zip(reversed(here), there, strict=True))
        t.expect(moved == 0, f"the same answer for all {len(calls)} tenants there",
                 f"{moved} of {len(calls)} tenants placed elsewhere there", hint=STABLE,
                 code_hint=STABLE_CODE)


# --- the queue of each tenant ---------------------------------------------------------------


def _tenant_queues(t: Trial, tenant_queue: Callable) -> None:
    with t.case("tenant_queue names a valid SQS queue for every tenant"):
        names = t.call(lambda: [tenant_queue(tenant) for tenant in LOOKALIKES])
        for tenant, name in zip(LOOKALIKES, names, strict=True):
            t.expect(isinstance(name, str) and QUEUE_NAME.fullmatch(name) is not None,
                     "a queue name: 1 to 64 letters, digits, hyphens or underscores",
                     short(name), sent=tenant,
                     hint="SQS queue names allow letters, digits, '-' and '_' only, up to 80 "
                          "characters with the kit's prefix.")
    with t.case("tenant_queue gives tenant-a and tenant-aa (and every other tenant) its own "
                "queue"):
        again = t.call(lambda: [tenant_queue(tenant) for tenant in LOOKALIKES])
        t.expect(again == names, "the same name on every call", f"{short(names)}, then "
                 f"{short(again)}", hint="the queue follows from the tenant id alone.")
        everyone = LOOKALIKES + MANY + CASED
        names = names + t.call(lambda: [tenant_queue(tenant) for tenant in MANY + CASED])
        owners: dict[str, list[str]] = {}
        for tenant, name in zip(everyone, names, strict=True):
            owners.setdefault(str(name), []).append(tenant)
        shared = {n: tenants[:3] for n, tenants in owners.items() if len(tenants) > 1}
        t.expect(not shared, f"one queue per tenant ({len(everyone)} tenants, ids "
                 "case-sensitive)", f"{len(shared)} queues shared, e.g. "
                 f"{dict(list(shared.items())[:3])}",
                 hint="a queue per tenant is shared by nobody: a truncated, hashed or "
                      "lower-cased name puts two tenants (tenant-a and tenant-aa, Acme-01 and "
                      "acme-01, or any two) in one queue.",
                 code_hint="f'tenant-{tenant_id}' keeps the whole id.")
    _same_elsewhere(t, tenant_queue, [], "tenant_queue")


# --- cells --------------------------------------------------------------------------------


def _cells(t: Trial, cell_of: Callable) -> None:
    plan = [(tenant, cells) for cells in (2, 3, 5, 12) for tenant in LOOKALIKES]
    with t.case("cell_of returns a cell number below the count it is given (2, 3, 5, 12)"):
        first = t.call(lambda: [cell_of(tenant, cells) for tenant, cells in plan])
        for (tenant, cells), cell in zip(plan, first, strict=True):
            t.expect(_is_int(cell) and 0 <= cell < cells, f"an int in 0 .. {cells - 1}",
                     short(cell), sent=f"cell_of({tenant!r}, {cells})",
                     hint="the cell is a number below the cell count you are given, not a "
                          "count you chose.")
    with t.case("cell_of puts a tenant in the same cell on every call"):
        again = t.call(lambda: [cell_of(tenant, cells) for tenant, cells in reversed(plan)])
        moved = [p for p, a, b in zip(plan, first, reversed(again), strict=True) if a != b]
        t.expect(not moved, "the same cell every time", f"{len(moved)} tenants moved, e.g. "
                 f"{moved[:2]}", hint="a cell is where a tenant lives: chosen from the tenant "
                                      "id, not at random or by the order tenants arrive in.")
    _same_elsewhere(t, cell_of, [5], "cell_of")
    with t.case("1000 tenants spread over all 12 cells (and all 24, and all 40)"):
        for cells in (12, 24, 40):
            spread = Counter(_cell_numbers(t, cell_of, SPREAD, cells))
            t.expect(len(spread) == cells and max(spread.values()) <= 2 * len(SPREAD) / cells,
                     f"every one of the {cells} cells used, none with more than "
                     f"{2 * len(SPREAD) // cells} tenants",
                     f"{len(spread)} cells used, the fullest with {max(spread.values())} tenants",
                     sent=f"cell_of(tenant, {cells}) for tenant-0000 .. tenant-0999",
                     hint="a good hash of the whole tenant id, modulo the count you are given, "
                          "spreads tenants evenly over all the cells, however many there are.",
                     code_hint=STABLE_CODE)
    with t.case("lookalike tenants (same suffix, same prefix, anagrams, case) rarely share a "
                "cell"):
        flat = [tenant for pair in PAIRS for tenant in pair]
        cell = dict(zip(flat, _cell_numbers(t, cell_of, flat, 40), strict=True))
        same = [pair for pair in PAIRS if cell[pair[0]] == cell[pair[1]]]
        t.expect(len(same) <= 12, f"about {len(PAIRS) / 40:.0f} of {len(PAIRS)} pairs in the "
                 "same of 40 cells (one in 40), at most 12", f"{len(same)} pairs, e.g. {same[:3]}",
                 hint="the cell must depend on the whole tenant id, in order and case: a seed "
                      "from part of the id or from its letters in any order gives lookalike "
                      "tenants the same cell.", code_hint=STABLE_CODE)


def _cell_numbers(t: Trial, cell_of: Callable, tenants: list[str], cells: int) -> list[int]:
    """The learner's cells for ``tenants``, each checked to be a cell number, or a report."""
    values = t.call(lambda: [cell_of(tenant, cells) for tenant in tenants])
    for tenant, cell in zip(tenants, values, strict=True):
        t.expect(_is_int(cell) and 0 <= cell < cells, f"an int in 0 .. {cells - 1}",
                 short(cell), sent=f"cell_of({tenant!r}, {cells})",
                 hint="the cell is a number below the cell count you are given, for every "
                      "tenant and every count.")
    return [int(cell) for cell in values]


# --- shuffle shards -----------------------------------------------------------------------


def _shard(t: Trial, value: Any, n: int, k: int, sent: str) -> tuple[int, ...]:
    """A learner's shard as a sorted tuple, or a teaching report."""
    expected = f"{k} distinct queue numbers in 0 .. {n - 1}"
    if isinstance(value, str | bytes | dict) or not hasattr(value, "__iter__"):
        t.expect(False, expected, short(value), sent=sent,
                 hint="return the tenant's queues as a list of numbers.")
    try:
        iterator = iter(value)
    except TypeError:
        iterator = None
    t.expect(iterator is not None, expected + " (a list)", f"{short(value)}, which cannot be "
             "iterated over", sent=sent, hint="return the tenant's queues as a list of numbers "
             "(a 0-d numpy array, e.g. from .squeeze() on one queue, is a single number).")
    t.expect(iterator is not value, expected + " (a list)", f"an iterator: {short(value)}",
             sent=sent, hint="return a list (or tuple, or set): a generator is used up by the "
                             "first reader, and a producer reads the shard for every message.")
    items = list(value)
    t.expect(all(_is_int(q) and 0 <= q < n for q in items), expected, short(items), sent=sent,
             hint="queue numbers go from 0 to n - 1, n being the count you are given.")
    t.expect(len(items) == k, expected, f"{len(items)} queues: {short(items)}", sent=sent,
             hint="k is given: a tenant gets exactly k queues.")
    t.expect(len(set(items)) == k, expected, f"a duplicate: {short(items)}", sent=sent,
             hint="k queues with a duplicate are fewer than k queues: draw without replacement.",
             code_hint="random.Random(seed_from_the_tenant).sample(range(n), k)")
    return tuple(sorted(int(q) for q in items))


def _shuffle_shards(t: Trial, shuffle_shard: Callable) -> None:
    sizes = [(8, 2), (5, 3), (12, 4), (6, 1), (7, 7)]
    plan = [(tenant, n, k) for n, k in sizes for tenant in LOOKALIKES]
    with t.case("shuffle_shard returns k distinct queues of n (8/2, 5/3, 12/4, 6/1, 7/7)"):
        first = t.call(lambda: [shuffle_shard(*p) for p in plan])
        shards = [_shard(t, value, n, k, f"shuffle_shard({tenant!r}, {n}, {k})")
                  for (tenant, n, k), value in zip(plan, first, strict=True)]
    with t.case("shuffle_shard gives a tenant the same queues on every call"):
        again = t.call(lambda: [shuffle_shard(*p) for p in plan])
        moved = [p for p, a, b in zip(plan, shards, again, strict=True)
                 if a != _shard(t, b, p[1], p[2], f"shuffle_shard{p}")]
        t.expect(not moved, "the same queues every time", f"{len(moved)} tenants moved, e.g. "
                 f"{moved[:2]}", hint=STABLE, code_hint=STABLE_CODE)
    with t.case("shuffle_shard leaves the process's global random generator alone"):
        before = random.getstate()
        t.call(lambda: [shuffle_shard(tenant, 8, 2) for tenant in LOOKALIKES])
        t.expect(random.getstate() == before, "random's global state untouched",
                 "random.seed() or a draw from the global generator",
                 hint="seeding the global generator changes every other random draw in the "
                      "process (retries' jitter, sampling...): give the tenant a generator of "
                      "its own.", code_hint="random.Random(seed).sample(range(n), k)")
    _same_elsewhere(t, shuffle_shard, [8, 2], "shuffle_shard")
    with t.case("300 tenants on 2 of 8 queues use nearly all 28 pairs, none much more"):
        pairs = Counter(_shard(t, value, 8, 2, f"shuffle_shard({tenant!r}, 8, 2)")
                        for tenant, value in zip(MANY, t.call(
                            lambda: [shuffle_shard(tenant, 8, 2) for tenant in MANY]),
                            strict=True))
        t.expect(len(pairs) >= 24 and max(pairs.values()) <= 3 * 300 / 28,
                 "at least 24 of the 28 pairs, none held by more than 32 tenants",
                 f"{len(pairs)} pairs, the busiest held by {max(pairs.values())} tenants",
                 hint="shuffle sharding works because two tenants rarely get the *same* k "
                      "queues: pick any k of the n from the tenant id, not k neighbours "
                      "(queue h and h + 1 give only n pairs) and not the same k for everyone.",
                 code_hint="random.Random(int.from_bytes(hashlib.sha256(tenant_id.encode())"
                           ".digest()[:8], 'big')).sample(range(n), k)")
    _wide_shards(t, shuffle_shard)
    with t.case("lookalike tenants (same suffix, same prefix, anagrams, case) rarely share a "
                "shard"):
        flat = [tenant for pair in PAIRS for tenant in pair]
        shards = dict(zip(flat, _shards(t, shuffle_shard, flat, 32, 3), strict=True))
        same = [pair for pair in PAIRS if shards[pair[0]] == shards[pair[1]]]
        t.expect(len(same) <= 2, f"hardly any of {len(PAIRS)} pairs on the same 3 of 32 queues "
                 f"(one in {math.comb(32, 3)}), at most 2", f"{len(same)} pairs, e.g. {same[:3]}",
                 hint="the shard must depend on the whole tenant id, in order and case: a seed "
                      "from part of the id (its end, its start), from its letters in any order "
                      "or from its lower-case form gives lookalike tenants the same fate.",
                 code_hint=STABLE_CODE)


def _shards(t: Trial, shuffle_shard: Callable, tenants: list[str], n: int, k: int
            ) -> list[tuple[int, ...]]:
    values = t.call(lambda: [shuffle_shard(tenant, n, k) for tenant in tenants])
    return [_shard(t, value, n, k, f"shuffle_shard({tenant!r}, {n}, {k})")
            for tenant, value in zip(tenants, values, strict=True)]


def _wide_shards(t: Trial, shuffle_shard: Callable) -> None:
    """At other sizes than 8/2: every queue used evenly, shards distinct, no pair glued."""
    with t.case("1000 tenants on 3 of 32 and on 4 of 100 queues: every queue used evenly, "
                "hardly two tenants with the same shard"):
        for n, k in ((32, 3), (100, 4)):
            shards = _shards(t, shuffle_shard, SPREAD, n, k)
            load = Counter(q for shard in shards for q in shard)
            pairs = Counter(pair for shard in shards for pair in itertools.combinations(shard, 2))
            mean = len(SPREAD) * k / n
            same = len(SPREAD) - len(set(shards))
            expected_same = len(SPREAD) ** 2 / 2 / math.comb(n, k)
            pair_mean = len(SPREAD) * math.comb(k, 2) / math.comb(n, 2)
            t.expect(len(load) == n and max(load.values()) <= 1.6 * mean
                     and same <= 3 * expected_same + 3
                     and max(pairs.values()) <= 3 * pair_mean + 7,
                     f"all {n} queues used, none by more than {1.6 * mean:.0f} tenants; at most "
                     f"{3 * expected_same + 3:.0f} tenants sharing another's shard; no two "
                     f"queues together in more than {3 * pair_mean + 7:.0f} shards",
                     f"{len(load)} queues used, the busiest by {max(load.values())}; "
                     f"{same} tenants sharing a shard; two queues together in "
                     f"{max(pairs.values())} shards",
                     sent=f"shuffle_shard(tenant, {n}, {k}) for tenant-0000 .. tenant-0999",
                     hint="any k of the n queues, chosen from the whole tenant id with a seed "
                          "of many bits: a small seed space (a byte, a number below 1000) "
                          "repeats shards, hex digits or a cap reach only some queues, "
                          "neighbours glue queues together, a favourite queue gets crowded.",
                     code_hint="random.Random(int.from_bytes(hashlib.sha256(tenant_id.encode())"
                               ".digest()[:8], 'big')).sample(range(n), k)")


# --- the less backlogged of the tenant's queues ------------------------------------------


def _backlogs(n: int) -> list[list[int]]:
    """Small backlogs where every queue is at some point the least, the most, or tied."""
    rows = [list(p) for p in itertools.permutations(range(n))]
    rows += [[(q * 7 + shift) % 4 for q in range(n)] for shift in range(4)]
    rows += [[0] * n, [5] * n, [9, 10, 100, 11, 2][:n], [999, 20, 3, 998, 40][:n]]
    return rows


def _picks(t: Trial, pick_queue: Callable) -> None:
    n = 5
    shards = [list(c) for k in range(1, n + 1) for c in itertools.combinations(range(n), k)]
    shards += [list(reversed(c)) for c in shards if len(c) > 1]
    plan = [(shard, backlog) for shard in shards for backlog in _backlogs(n)]

    def every_pick() -> list:
        return [pick_queue(list(shard), list(backlog)) for shard, backlog in plan]

    with t.case("pick_queue returns one of the tenant's own queues"):
        picks = t.call(every_pick)
        for (shard, backlog), pick in zip(plan, picks, strict=True):
            t.expect(_is_int(pick) and pick in shard, f"one of {shard}", short(pick),
                     sent=f"pick_queue({shard}, {backlog})",
                     hint="the tenant may only use its own k queues: the least backlogged of "
                          "*all* queues spreads a flood over every queue, and a position in "
                          "the list is not a queue number.",
                     code_hint="min(queues, key=lambda q: backlog[q])")
    with t.case("pick_queue picks the least backlogged of them"):
        for (shard, backlog), pick in zip(plan, picks, strict=True):
            least = min(backlog[q] for q in shard)
            t.expect(backlog[pick] == least,
                     f"a queue of {shard} with backlog {least}",
                     f"queue {pick} with backlog {backlog[pick]}",
                     sent=f"pick_queue({shard}, {backlog})",
                     hint="a message goes to the tenant's queue with the fewest messages "
                          "waiting, so a quiet tenant leaves the queue the noisy one floods.",
                     code_hint="min(queues, key=lambda q: backlog[q])")
    with t.case("pick_queue never drops a message, however long the queues, and still picks "
                "the least backlogged"):
        for shard, backlog in LONG_QUEUES:
            pick = t.call(pick_queue, list(shard), list(backlog))
            sent = f"pick_queue({shard}, {backlog})"
            t.expect(_is_int(pick) and pick in shard, f"one of {shard}", short(pick), sent=sent,
                     hint="no message may be lost: a long queue is still a queue. Shedding "
                          "load is a decision for the throttle at the front door (4.3), with a "
                          "429 the caller sees, never a silent drop inside.")
            least = min(backlog[q] for q in shard)
            t.expect(backlog[pick] == least, f"a queue of {shard} with backlog {least}",
                     f"queue {pick} with backlog {backlog[pick]}", sent=sent,
                     hint="compare the whole backlogs, however large (no cap, no cast to a "
                          "small integer type), over all of the tenant's queues, however many.",
                     code_hint="min(queues, key=lambda q: backlog[q])")


# Long, differing backlogs (past a cap of 1000 and past int16's 32767) over shards of up to 7.
_LONG = [40000, 10, 10**6, 500000, 70000, 1200, 3000]
LONG_QUEUES = [([2, 5], [0, 0, 10**6, 0, 0, 10**6]), ([1, 3], [10**7] * 4), ([0], [10**9]),
               ([0, 1], _LONG), ([0, 2, 3, 4], _LONG), ([6, 5, 4, 3, 2], _LONG),
               ([2, 3, 0, 4, 6], _LONG), ([4, 3, 2, 0, 5, 6], _LONG),
               ([3, 2, 6, 0, 5, 4, 1], [2000, 1500, 1999, 10**9, 5000, 1001, 40001]),
               ([3, 6, 4, 1], [2000, 40001, 1999, 10**9, 5000, 1001, 33000])]


# --- the model, run with the learner's functions ------------------------------------------


def _experiment(t: Trial, functions: tuple[Callable, ...]) -> None:
    setup = experiment.Setup()
    with t.case("the experiment loses no message under any strategy (sent = served)"):
        layouts = t.call(experiment.layouts, setup, *functions)
        load = setup.load()
        for layout in layouts:
            run = t.call(simulate, load, layout.route, layout.capacity, layout.fair)
            where = Counter(short(w, 30) for _, w in run.lost)
            t.expect(not run.lost, f"{len(load)} messages served with the {layout.name}",
                     f"{len(run.lost)} lost, sent to {dict(where.most_common(3))}",
                     hint="every message goes to a queue of the layout, the noisy tenant's "
                          "too: answer with a queue, whatever the backlog.")
    with t.case("shuffle sharding: only quiet tenants with no queue of their own wait behind "
                "the flood"):
        blast = t.call(experiment.blast, 8, 2, 201, *functions[2:])
        t.expect(blast.hurt == blast.cornered,
                 f"hurt: exactly the {len(blast.cornered)} tenants whose 2 queues are both the "
                 "noisy tenant's", f"{len(blast.hurt)} quiet tenants hurt",
                 hint="a quiet tenant with one queue outside the noisy tenant's shard must "
                      "send there: the less backlogged of its own queues.")


@exercise(
    "4.4", "queues against a noisy neighbour",
    ("tenant_queue", "cell_of", "shuffle_shard", "pick_queue"),
    hint="place each tenant from its id alone, the same way in every process (hashlib, not "
         "hash()): its own queue name, a cell number below the count, k distinct queues of n; "
         "then send each message to the less backlogged of the tenant's own queues, never "
         "dropping one.",
    code_hint="h = int.from_bytes(hashlib.sha256(tenant_id.encode()).digest()[:8], 'big'); "
              "cell: h % cells; shard: random.Random(h).sample(range(n), k); pick: "
              "min(queues, key=lambda q: backlog[q]).",
)
def check_queues(tenant_queue, cell_of, shuffle_shard, pick_queue, t: Trial) -> None:
    _tenant_queues(t, tenant_queue)
    _cells(t, cell_of)
    _shuffle_shards(t, shuffle_shard)
    _picks(t, pick_queue)
    _experiment(t, (tenant_queue, cell_of, shuffle_shard, pick_queue))


# --- 4.5 blast radius ---------------------------------------------------------------------


def _known_mistakes(n: int, k: int) -> dict[str, float]:
    """Wrong formulas people write, with what each means, to name the one a learner used."""
    mistakes = {
        "the number of possible shards C(n, k), not a share of tenants": math.comb(n, k),
        "ordered draws: 1 / (n! / (n - k)!) counts each shard k! times": 1 / math.perm(n, k),
        "draws with replacement: 1 / n**k": 1 / n ** k,
        "k / n, the share of queues one tenant uses": k / n,
        "the share that shares at least one queue": 1 - math.comb(n - k, k) / math.comb(n, k)
        if n - k >= k else 1.0,
        "1 - 1 / C(n, k), the share that is *not* hurt": 1 - 1 / math.comb(n, k),
        "a percentage": 100 / math.comb(n, k),
    }
    right = 1 / math.comb(n, k)
    return {what: value for what, value in mistakes.items()
            if not math.isclose(value, right, rel_tol=1e-9)}


def _radius(t: Trial, blast_radius: Callable, n: int, k: int) -> float:
    value = t.call(blast_radius, n, k)
    sent = f"blast_radius({n}, {k})"
    t.expect(isinstance(value, numbers.Real | decimal.Decimal) and not isinstance(value, bool),
             "a number (a share between 0 and 1)", short(value), sent=sent,
             hint="return the share as a float, e.g. 0.25 for a quarter of the tenants.")
    try:
        return float(value)
    except (OverflowError, ValueError, TypeError, decimal.InvalidOperation):
        t.expect(False, "a share between 0 and 1", f"{short(value)}, too large to be a float",
                 sent=sent, hint="a share of tenants is at most 1: 1 over the number of "
                                 "shards, not the number itself.")
        raise AssertionError("unreachable") from None


def _pairs() -> list[tuple[int, int]]:
    """The (n, k) the check asks about: small and large, and one drawn (seeded) so that no
    table of answers can know it in advance."""
    draw = random.Random(45)
    drawn = (draw.randrange(40, 400), draw.randrange(2, 6))
    return [(8, 2), (5, 1), (12, 4), (20, 3), (6, 6), (100, 2), (9, 4), (200, 2), (1000, 3),
            drawn]


@exercise(
    "4.5", "shuffle sharding's blast radius", ("blast_radius",),
    hint="the noisy tenant holds one set of k queues; another tenant's k queues are any of the "
         "C(n, k) sets, equally likely; it is hurt only when its set is exactly the noisy "
         "one's.",
    code_hint="return 1 / math.comb(n, k)",
)
def check_blast_radius(blast_radius, t: Trial) -> None:
    with t.case("blast_radius(8, 2) is a share between 0 and 1"):
        value = _radius(t, blast_radius, 8, 2)
        t.expect(0 < value <= 1, "a share between 0 and 1", short(value), sent="(8, 2)",
                 hint="a share of tenants, not a count and not a percentage: 0.25 is a quarter."
                 )
    for n, k in _pairs():
        with t.case(f"the share for n={n}, k={k}"):
            value, right = _radius(t, blast_radius, n, k), 1 / math.comb(n, k)
            named = [what for what, wrong in _known_mistakes(n, k).items()
                     if wrong not in (0, 1) and math.isclose(value, wrong, rel_tol=1e-6)]
            t.expect(math.isclose(value, right, rel_tol=1e-6), f"{right:.6g}",
                     f"{value:.6g}" + (f" ({named[0]})" if named else ""), sent=f"({n}, {k})",
                     hint="the share of other tenants whose k queues are exactly the noisy "
                          "tenant's k: one set among all the ways to choose k of n, order "
                          "not counted.")
    with t.case("blast_radius agrees with the experiment (6 queues, 2 each, 300 quiet tenants)"):
        value = _radius(t, blast_radius, 6, 2)
        run = experiment.blast(6, 2, 301, seed=11)
        spread = 4 * math.sqrt(max(value * (1 - value), 1e-9) / run.quiet)
        t.expect(run.lost == 0 and abs(run.measured - value) <= spread,
                 f"{value:.3f} +/- {spread:.3f} (sampling error)",
                 f"{len(run.hurt)} of {run.quiet} quiet tenants hurt: {run.measured:.3f}",
                 hint="the experiment places tenants at random: your share should be what it "
                      "measures, within sampling error.")

