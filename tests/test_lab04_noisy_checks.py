"""Lab 4's queue checks (4.4, 4.5) pass on the solution and its benign variants, and catch each
wrong one.

The solution functions come from solutions/04-routing.ipynb itself, without running its demo
cells' experiments twice: the namespace is built once per module. Each mutant is one realistic
bug (a process-dependent ``hash()``, the same shard for every tenant, the most backlogged
queue, duplicates, an ignored k, C(n, k) for 1 / C(n, k), a per-tenant queue that collapses
tenant-a and tenant-aa, a placement that is not stable across calls, a message dropped when
queues are long, random choices without a seed); the row names the case that must catch it.
"""

from __future__ import annotations

import hashlib
import itertools
import math
import random
import zlib
from fractions import Fraction
from functools import lru_cache

import numpy
import pytest
from mutants import escaped, refused

from checks import run
from checks.notebook_code import exercise_ids, namespace, solution_path

QUEUE_EXERCISES = ("4.4", "4.5")


def _h(tenant_id):
    return int.from_bytes(hashlib.sha256(tenant_id.encode()).digest()[:8], "big")


@pytest.fixture(scope="module")
def solution():
    """The notebook's own functions: its solution cells only, none of the demo runs."""
    return namespace(solution_path(4), solutions_only=True)


def _four(s, **replaced):
    functions = {"tenant_queue": s["tenant_queue"], "cell_of": s["cell_of"],
                 "shuffle_shard": s["shuffle_shard"], "pick_queue": s["pick_queue"], **replaced}
    return (functions["tenant_queue"], functions["cell_of"], functions["shuffle_shard"],
            functions["pick_queue"])


def test_the_solution_passes(solution):
    for exercise, names in (("4.4", ("tenant_queue", "cell_of", "shuffle_shard", "pick_queue")),
                            ("4.5", ("blast_radius",))):
        outcome = run(exercise, *[solution[name] for name in names])
        assert outcome.passed, outcome.message
        assert outcome.cases >= 8 and not outcome.skipped, outcome.skipped


# --- 4.4 queues against a noisy neighbour ---------------------------------------------------


def queue_mutants(s):
    def truncated(tenant_id):
        return f"q-{tenant_id[:8]}"

    def path_like(tenant_id):
        return f"tenants/{tenant_id}"

    def hashed_name(tenant_id):
        return f"tenant-{hash(tenant_id) % 10**8}"

    def underscores_become_hyphens(tenant_id):
        return "tenant-" + tenant_id.replace("_", "-")

    def cell_by_hash(tenant_id, cells):
        return hash(tenant_id) % cells

    def cell_at_random(tenant_id, cells):
        return random.randrange(cells)

    seen: dict = {}

    def cell_by_arrival(tenant_id, cells):
        return seen.setdefault(tenant_id, len(seen) % cells)

    def four_cells(tenant_id, cells):
        return _h(tenant_id) % 4

    def cell_by_length(tenant_id, cells):
        return len(tenant_id) % cells

    def same_shard_for_all(tenant_id, n, k):
        return list(range(k))

    def neighbours(tenant_id, n, k):
        return [(_h(tenant_id) + i) % n for i in range(k)]

    def with_duplicates(tenant_id, n, k):
        return [(_h(tenant_id) >> (8 * i)) % n for i in range(k)]

    def always_two(tenant_id, n, k):
        return random.Random(_h(tenant_id)).sample(range(n), 2)

    def shard_by_hash(tenant_id, n, k):
        return random.Random(hash(tenant_id)).sample(range(n), k)

    def shard_at_random(tenant_id, n, k):
        return random.sample(range(n), k)

    def one_based(tenant_id, n, k):
        return [q + 1 for q in random.Random(_h(tenant_id)).sample(range(n), k)]

    def shard_by_letter_sum(tenant_id, n, k):  # an adversary's: stable, but anagrams collide
        return random.Random(sum(map(ord, tenant_id))).sample(range(n), k)

    def shard_by_suffix(tenant_id, n, k):  # an adversary's: spreads, but tenant-0001 = shop-0001
        return random.Random(tenant_id[-4:]).sample(range(n), k)

    def most_backlogged(queues, backlog):
        return max(queues, key=lambda q: backlog[q])

    def least_of_all(queues, backlog):
        return min(range(len(backlog)), key=lambda q: backlog[q])

    def position_not_queue(queues, backlog):
        return min(range(len(queues)), key=lambda i: backlog[queues[i]])

    def first_queue(queues, backlog):
        return queues[0]

    def random_queue(queues, backlog):
        return random.choice(queues)

    def two_random_choices(queues, backlog):  # right for k = 2 only
        return min(random.sample(queues, min(2, len(queues))), key=lambda q: backlog[q])

    def backlog_as_text(queues, backlog):  # an adversary's: "1000" < "9"
        return min(queues, key=lambda q: str(backlog[q]))

    def sheds_long_queues(queues, backlog):
        best = min(queues, key=lambda q: backlog[q])
        return None if backlog[best] >= 1000 else best

    return [
        ("4.4", "a per-tenant queue that truncates (tenant-a = tenant-aa)",
         _four(s, tenant_queue=truncated), "tenant-a and tenant-aa"),
        ("4.4", "a queue name SQS refuses (a slash)", _four(s, tenant_queue=path_like),
         "valid SQS queue"),
        ("4.4", "a per-tenant queue named by hash()", _four(s, tenant_queue=hashed_name),
         "tenant_queue is the same in a fresh Python process"),
        ("4.4", "a per-tenant queue that collapses tenant-a_a and tenant-a-a",
         _four(s, tenant_queue=underscores_become_hyphens), "tenant-a and tenant-aa"),
        ("4.4", "a cell by hash()", _four(s, cell_of=cell_by_hash),
         "cell_of is the same in a fresh Python process"),
        ("4.4", "a cell at random", _four(s, cell_of=cell_at_random), "same cell on every call"),
        ("4.4", "a cell by order of arrival", _four(s, cell_of=cell_by_arrival),
         "cell_of is the same in a fresh Python process"),
        ("4.4", "four cells whatever the count", _four(s, cell_of=four_cells),
         "below the count it is given"),
        ("4.4", "a cell by the id's length", _four(s, cell_of=cell_by_length),
         "spread over all 12 cells"),
        ("4.4", "the same k queues for every tenant",
         _four(s, shuffle_shard=same_shard_for_all), "nearly all 28 pairs"),
        ("4.4", "k neighbouring queues", _four(s, shuffle_shard=neighbours),
         "nearly all 28 pairs"),
        ("4.4", "k queues with duplicates", _four(s, shuffle_shard=with_duplicates),
         "returns k distinct queues"),
        ("4.4", "k ignored (always 2)", _four(s, shuffle_shard=always_two),
         "returns k distinct queues"),
        ("4.4", "a shard by hash()", _four(s, shuffle_shard=shard_by_hash),
         "shuffle_shard is the same in a fresh Python process"),
        ("4.4", "a shard at random without a seed", _four(s, shuffle_shard=shard_at_random),
         "same queues on every call"),
        ("4.4", "queues numbered from 1", _four(s, shuffle_shard=one_based),
         "returns k distinct queues"),
        ("4.4", "a shard seeded by the sum of the id's letters",
         _four(s, shuffle_shard=shard_by_letter_sum), "nearly all 28 pairs"),
        ("4.4", "a shard seeded by the id's last four characters",
         _four(s, shuffle_shard=shard_by_suffix), "lookalike tenants"),
        ("4.4", "backlogs compared as text", _four(s, pick_queue=backlog_as_text),
         "picks the least backlogged"),
        ("4.4", "the most backlogged queue", _four(s, pick_queue=most_backlogged),
         "picks the least backlogged"),
        ("4.4", "the least backlogged of all queues", _four(s, pick_queue=least_of_all),
         "tenant's own queues"),
        ("4.4", "a position in the list, not a queue", _four(s, pick_queue=position_not_queue),
         "tenant's own queues"),
        ("4.4", "the first queue whatever the backlog", _four(s, pick_queue=first_queue),
         "picks the least backlogged"),
        ("4.4", "a random queue without looking", _four(s, pick_queue=random_queue),
         "picks the least backlogged"),
        ("4.4", "two random choices of k (right for k = 2 only)",
         _four(s, pick_queue=two_random_choices), "picks the least backlogged"),
        ("4.4", "drops messages when the queues are long (no loss allowed)",
         _four(s, pick_queue=sheds_long_queues), "never drops a message"),
    ]


def queue_benign(s):
    seed = s["_placement_seed"]

    def whole_id(tenant_id):
        return tenant_id

    def crc_cell(tenant_id, cells):
        return zlib.crc32(tenant_id.encode()) % cells

    def rendezvous(tenant_id, n, k):  # highest random weight: rank queues by a per-queue hash
        ranked = sorted(range(n), key=lambda q: hashlib.sha256(f"{tenant_id}/{q}".encode())
                        .digest())
        return set(ranked[:k])

    def tuple_of_sorted(tenant_id, n, k):
        return tuple(sorted(random.Random(seed(tenant_id)).sample(range(n), k)))

    def ties_at_random(queues, backlog):
        least = min(backlog[q] for q in queues)
        return random.choice([q for q in queues if backlog[q] == least])

    def by_loop(queues, backlog):
        best = None
        for q in queues:
            if best is None or backlog[q] < backlog[best]:
                best = q
        return best

    cell, shard, pick = s["cell_of"], s["shuffle_shard"], s["pick_queue"]

    def numpy_cell(tenant_id, cells):
        return numpy.int64(cell(tenant_id, cells))

    def array_shard(tenant_id, n, k):
        return numpy.array(shard(tenant_id, n, k))

    def numpy_pick(queues, backlog):
        return numpy.int64(pick(queues, backlog))

    return [
        ("4.4", whole_id, crc_cell, rendezvous, ties_at_random),
        ("4.4", s["tenant_queue"], numpy_cell, array_shard, numpy_pick),
        ("4.4", lru_cache(s["tenant_queue"]), lru_cache(s["cell_of"]), tuple_of_sorted, by_loop),
    ]


# --- 4.5 blast radius -------------------------------------------------------------------------


def blast_mutants(s):
    def mutant(formula):
        def blast_radius(n, k):
            return formula(n, k)
        return ("blast_radius",), blast_radius

    rows = [
        ("the number of shards C(n, k)", lambda n, k: math.comb(n, k), "is a share"),
        ("a percentage", lambda n, k: 100 / math.comb(n, k), "is a share"),
        ("integer division 1 // C(n, k)", lambda n, k: 1 // math.comb(n, k), "is a share"),
        ("a fraction written as text", lambda n, k: f"1/{math.comb(n, k)}", "is a share"),
        ("ordered draws 1 / P(n, k)", lambda n, k: 1 / math.perm(n, k), "n=8, k=2"),
        ("draws with replacement 1 / n**k", lambda n, k: 1 / n ** k, "n=8, k=2"),
        ("k / n", lambda n, k: k / n, "n=8, k=2"),
        ("1 / n", lambda n, k: 1 / n, "n=8, k=2"),
        ("1 - 1 / C(n, k)", lambda n, k: 1 - 1 / math.comb(n, k), "n=8, k=2"),
        ("shares at least one queue", lambda n, k: 1 - math.comb(n - k, k) / math.comb(n, k),
         "n=8, k=2"),
        ("k! / n**k", lambda n, k: math.factorial(k) / n ** k, "n=8, k=2"),
        ("rounded to 3 decimals", lambda n, k: round(1 / math.comb(n, k), 3), "n=8, k=2"),
        ("k ignored (always 2)", lambda n, k: 1 / math.comb(n, 2), "n=5, k=1"),
        ("nobody when k = n", lambda n, k: 0.0 if k == n else 1 / math.comb(n, k), "n=6, k=6"),
    ]
    return [("4.5", bug, (mutant(formula)[1],), case) for bug, formula, case in rows]


def blast_benign(s):
    def as_fraction(n, k):
        return Fraction(1, math.comb(n, k))

    def by_factorials(n, k):
        return math.factorial(k) * math.factorial(n - k) / math.factorial(n)

    def as_product(n, k):
        share = 1.0
        for i in range(k):
            share *= (k - i) / (n - i)
        return share

    def by_counting(n, k):  # enumerates every shard: slow for big n, fine for the check's
        shards = list(itertools.combinations(range(n), k)) if math.comb(n, k) < 10**6 else []
        return 1 / len(shards) if shards else 1 / math.comb(n, k)

    return [("4.5", f) for f in (as_fraction, by_factorials, as_product, by_counting)]


MUTANTS = {"4.4": queue_mutants, "4.5": blast_mutants}
BENIGN = {"4.4": queue_benign, "4.5": blast_benign}


@pytest.mark.parametrize("exercise", sorted(MUTANTS))
def test_every_check_catches_its_classic_mistakes(solution, exercise):
    table = MUTANTS[exercise](solution)
    assert len(table) >= 8, f"{exercise} needs at least 8 mutants"
    slipped = escaped(table)
    assert not slipped, "\n".join(slipped)


@pytest.mark.parametrize("exercise", sorted(BENIGN))
def test_correct_answers_written_differently_pass(solution, exercise):
    failed = refused(BENIGN[exercise](solution))
    assert not failed, "\n".join(failed)


def test_a_learner_shape_mistake_is_a_teaching_report(solution):
    def shard_as_text(tenant_id, n, k):
        return ",".join(map(str, range(k)))

    def shard_as_generator(tenant_id, n, k):
        yield from solution["shuffle_shard"](tenant_id, n, k)

    outcome = run("4.4", *_four(solution, shuffle_shard=shard_as_text))
    assert "list of numbers" in outcome.message and "bug in the kit" not in outcome.message
    outcome = run("4.4", *_four(solution, shuffle_shard=shard_as_generator))
    assert "used up by the first reader" in outcome.message


def test_a_report_names_the_formula_the_learner_used(solution):
    outcome = run("4.5", lambda n, k: 1 / math.perm(n, k))
    assert "ordered draws" in outcome.message


def test_the_code_step_is_not_in_the_first_report(solution):
    assert run("4.5", solution["blast_radius"]).passed  # forgets earlier failures
    first = run("4.5", lambda n, k: k / n).message
    second = run("4.5", lambda n, k: k / n).message
    assert "math.comb" not in first and "math.comb" in second


def test_the_queue_exercises_are_registered():
    assert set(QUEUE_EXERCISES) <= set(exercise_ids(4))
