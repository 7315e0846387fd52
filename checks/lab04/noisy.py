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

import itertools
import math
import numbers
import re
from collections import Counter
from collections.abc import Callable
from typing import Any

from environment.app.queueing import experiment
from environment.app.queueing.model import simulate

from ..framework import Trial, exercise, short
from ..fresh_process import call_elsewhere
from ..lab01.partitions import Resalted

QUEUE_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")
LOOKALIKES = ["tenant-a", "tenant-aa", "tenant-a-a", "tenant-a_a", "tenant-b", "tenant-c",
              "tenant-d", "tenant-4c1f9e0a-7d2b-4f7e-9a55-0c3e8b1d2f6a", "t"]
MANY = [f"tenant-{n:04d}" for n in range(300)]
# Pairs of tenants whose ids look alike (same suffix, same prefix, anagrams): a placement seeded
# from part of the id, or from its letters in any order, puts such pairs on the same shard.
PAIRS = ([(f"tenant-{n:04d}", f"shop-{n:04d}") for n in range(20)]
         + [(f"acme-{n:02d}-eu", f"acme-{n:02d}-us") for n in range(20)]
         + [(f"tenant-{a}{b}", f"tenant-{b}{a}")
            for a, b in zip("abcdefghijklmnopqrst", "uvwxyz0123456789ABCD", strict=True)])
STABLE = ("hash() of a string changes from one Python process to the next, and random choices "
          "change on every call: producers in other processes (and tomorrow's deployment) must "
          "put a tenant in the same place.")
STABLE_CODE = ("derive it from hashlib (e.g. int.from_bytes(hashlib.sha256(tenant_id.encode())"
               ".digest()[:8], 'big')), not hash() and not an unseeded random.")


def _is_int(value: Any) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _same_elsewhere(t: Trial, fn: Callable, calls: list[list[Any]], what: str) -> None:
    """The learner's answers here, with re-salted strings, and in a fresh process, agree."""
    name = f"{what} is the same in a fresh Python process"
    with t.case(name):
        here = t.call(lambda: [str(fn(*call)) for call in calls])
        salted = t.call(lambda: [str(fn(Resalted(call[0]), *call[1:])) for call in calls])
        t.expect(salted == here, f"{what} that depends only on the tenant id's text",
                 "other answers when the string's hash() changes", hint=STABLE,
                 code_hint=STABLE_CODE)
        there = call_elsewhere(fn, list(reversed(calls)), timeout=t.timeout)
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
        shared = {n: [tn for tn, m in zip(LOOKALIKES, names, strict=True) if m == n]
                  for n, c in Counter(names).items() if c > 1}
        t.expect(not shared, "one queue per tenant", f"tenants sharing a queue: {shared}",
                 hint="a queue per tenant is shared by nobody: a truncated or hashed name puts "
                      "two tenants (tenant-a and tenant-aa, or any two) in one queue.",
                 code_hint="f'tenant-{tenant_id}' keeps the whole id.")
    _same_elsewhere(t, tenant_queue, [[tenant] for tenant in LOOKALIKES + MANY[:20]],
                    "tenant_queue")


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
    _same_elsewhere(t, cell_of, [[tenant, 5] for tenant in LOOKALIKES + MANY[:30]], "cell_of")
    with t.case("300 tenants spread over all 12 cells"):
        spread = Counter(t.call(lambda: [cell_of(tenant, 12) for tenant in MANY]))
        t.expect(len(spread) == 12 and max(spread.values()) <= 2.5 * 300 / 12,
                 "every cell used, none with more than 62 tenants", dict(sorted(spread.items())),
                 hint="a good hash of the tenant id, modulo the count, spreads tenants evenly.",
                 code_hint=STABLE_CODE)


# --- shuffle shards -----------------------------------------------------------------------


def _shard(t: Trial, value: Any, n: int, k: int, sent: str) -> tuple[int, ...]:
    """A learner's shard as a sorted tuple, or a teaching report."""
    expected = f"{k} distinct queue numbers in 0 .. {n - 1}"
    if isinstance(value, str | bytes | dict) or not hasattr(value, "__iter__"):
        t.expect(False, expected, short(value), sent=sent,
                 hint="return the tenant's queues as a list of numbers.")
    t.expect(iter(value) is not value, expected + " (a list)", f"an iterator: {short(value)}",
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
    _same_elsewhere(t, shuffle_shard, [[tenant, 8, 2] for tenant in LOOKALIKES + MANY[:30]],
                    "shuffle_shard")
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
    with t.case("lookalike tenants (same suffix, same prefix, anagrams) rarely share a shard"):
        flat = [tenant for pair in PAIRS for tenant in pair]
        values = t.call(lambda: [shuffle_shard(tenant, 8, 2) for tenant in flat])
        shards = dict(zip(flat, (_shard(t, v, 8, 2, f"shuffle_shard({tenant!r}, 8, 2)")
                                 for tenant, v in zip(flat, values, strict=True)), strict=True))
        same = [pair for pair in PAIRS if shards[pair[0]] == shards[pair[1]]]
        t.expect(len(same) <= 8, f"about {len(PAIRS) / 28:.0f} of {len(PAIRS)} pairs on the "
                 "same 2 queues (one in 28), at most 8", f"{len(same)} pairs, e.g. {same[:3]}",
                 hint="the shard must depend on the whole tenant id, in order: a seed from "
                      "part of the id (its end, its start) or from its letters in any order "
                      "gives lookalike tenants the same fate.", code_hint=STABLE_CODE)


# --- the less backlogged of the tenant's queues ------------------------------------------


def _backlogs(n: int) -> list[list[int]]:
    """Small backlogs where every queue is at some point the least, the most, or tied."""
    rows = [list(p) for p in itertools.permutations(range(n))]
    rows += [[(q * 7 + shift) % 4 for q in range(n)] for shift in range(4)]
    rows += [[0] * n, [5] * n, [9, 10, 100, 11, 2][:n], [999, 20, 3, 998, 40][:n]]
    return rows


def _picks(t: Trial, pick_queue: Callable) -> None:
    n = 5
    shards = [list(c) for k in (1, 2, 3) for c in itertools.combinations(range(n), k)]
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
    with t.case("pick_queue never drops a message, however long the queues"):
        for shard, backlog in ([[2, 5], [0, 0, 10**6, 0, 0, 10**6]],
                               [[1, 3], [10**7] * 4], [[0], [10**9]]):
            pick = t.call(pick_queue, list(shard), list(backlog))
            t.expect(_is_int(pick) and pick in shard, f"one of {shard}", short(pick),
                     sent=f"pick_queue({shard}, {backlog})",
                     hint="no message may be lost: a long queue is still a queue. Shedding "
                          "load is a decision for the throttle at the front door (4.3), with a "
                          "429 the caller sees, never a silent drop inside.")


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
    t.expect(isinstance(value, numbers.Real) and not isinstance(value, bool),
             "a number (a share between 0 and 1)", short(value), sent=f"blast_radius({n}, {k})",
             hint="return the share as a float, e.g. 0.25 for a quarter of the tenants.")
    return float(value)


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
    for n, k in ((8, 2), (5, 1), (12, 4), (20, 3), (6, 6), (100, 2), (9, 4)):
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

