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
import linecache
import math
import random
import threading
import zlib
from decimal import Decimal
from fractions import Fraction
from functools import lru_cache

import numpy
import pytest
from mutants import assert_accepted, assert_caught

from checks import run
from checks.notebook_code import exercise_ids, namespace, solution_path

QUEUE_EXERCISES = ("4.4", "4.5")


def _h(tenant_id):
    return int.from_bytes(hashlib.sha256(tenant_id.encode()).digest()[:8], "big")


_LOCK = threading.Lock()  # a global no fresh process can rebuild

# Benign variants whose helpers are notebook globals, which must travel to a fresh process (a
# compiled pattern, a lambda, a partial, a UUID constant, a strict type check).
NOTEBOOK_CELL = '''
import functools, hashlib, random, re, uuid
_ALLOWED = re.compile(r"[A-Za-z0-9_-]{1,57}")
_seed = lambda tenant_id: int(hashlib.sha256(tenant_id.encode()).hexdigest(), 16)
_digest = functools.partial(hashlib.blake2b, digest_size=8)
_NAMESPACE = uuid.UUID("12345678-1234-5678-1234-567812345678")

def regex_validated(tenant_id):
    if not _ALLOWED.fullmatch(tenant_id):
        raise ValueError(f"tenant id {tenant_id!r} cannot name a queue")
    return f"tenant-{tenant_id}"

def cell_by_partial(tenant_id, cells):
    return int.from_bytes(_digest(tenant_id.encode()).digest(), "big") % cells

def shard_by_uuid5(tenant_id, n, k):
    return random.Random(uuid.uuid5(_NAMESPACE, tenant_id).int).sample(range(n), k)

def strict_cell(tenant_id, cells):  # and a lambda helper
    if type(tenant_id) is not str:
        raise TypeError("tenant_id must be a str")
    return _seed(tenant_id) % cells
'''


def _notebook(source):
    """Run ``source`` as a notebook cell runs: module ``__notebook__``, source findable."""
    filename = "<lab04-benign-cell>"
    linecache.cache[filename] = (len(source), None, source.splitlines(keepends=True), filename)
    cell = {"__name__": "__notebook__"}
    exec(compile(source, filename, "exec"), cell)  # noqa: S102 - the test's own source
    return cell


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

    # an adversary's: answers remembered in a module-level cache travel with the function
    shards_cache: dict = {}

    def cached_hash_shard(tenant_id, n, k):
        key = f"{tenant_id}:{n}:{k}"
        if key not in shards_cache:
            shards_cache[key] = random.Random(hash(key)).sample(range(n), k)
        return shards_cache[key]

    draws: dict = {}

    def cached_random_shard(tenant_id, n, k):
        key = f"{tenant_id}:{n}:{k}"
        if key not in draws:
            draws[key] = random.sample(range(n), k)
        return draws[key]

    placed: dict = {}

    def cached_arrival_cell(tenant_id, cells):
        key = f"{tenant_id}/{cells}"
        if key not in placed:
            placed[key] = len(placed) % cells
        return placed[key]

    cells_cache: dict = {}

    def cached_hash_cell(tenant_id, cells):
        key = (str(tenant_id), cells)
        if key not in cells_cache:
            cells_cache[key] = hash(key) % cells
        return cells_cache[key]

    queues_seen: dict = {}

    def queue_by_arrival(tenant_id):
        return queues_seen.setdefault(str(tenant_id), f"queue-{len(queues_seen)}")

    # an adversary's: hash() of a plain str, next to a global no fresh process can rebuild
    def hash_behind_a_lock(tenant_id, n, k):
        with _LOCK:
            return random.Random(hash(f"{tenant_id}")).sample(range(n), k)

    def queue_hash_behind_a_lock(tenant_id):
        with _LOCK:
            return f"q-{hash(str(tenant_id)) % 10**12}"

    def cell_hash_behind_a_lock(tenant_id, cells):
        with _LOCK:
            return hash(f"cell:{tenant_id}") % cells

    # an adversary's: right at 8/2, wrong at other sizes
    def seed_below_1000(tenant_id, n, k):
        return random.Random(_h(tenant_id) % 1000).sample(range(n), k)

    def seed_of_one_byte(tenant_id, n, k):
        return random.Random(hashlib.sha256(tenant_id.encode()).digest()[0]).sample(range(n), k)

    def hex_digits(tenant_id, n, k):
        queues = []
        for digit in hashlib.sha256(tenant_id.encode()).hexdigest():
            if int(digit, 16) % n not in queues:
                queues.append(int(digit, 16) % n)
            if len(queues) == k:
                break
        return queues

    def first_16_queues(tenant_id, n, k):
        return random.Random(_h(tenant_id)).sample(range(min(n, 16)), k)

    def two_then_neighbours(tenant_id, n, k):
        h = _h(tenant_id)
        shard = [h % n]
        while len(shard) < k:
            q = (shard[0] + 1 + (h >> 20) % (n - 1)) % n if len(shard) == 1 else \
                (shard[-1] + 1) % n
            while q in shard:
                q = (q + 1) % n
            shard.append(q)
        return shard

    def queue_0_for_half(tenant_id, n, k):
        h = _h(tenant_id)
        rng = random.Random(h)
        return [0] + rng.sample(range(1, n), k - 1) if h % 2 == 0 and k < n else \
            rng.sample(range(n), k)

    def case_insensitive_shard(tenant_id, n, k):
        return random.Random(_h(tenant_id.lower())).sample(range(n), k)

    def reseeds_global_random(tenant_id, n, k):
        random.seed(_h(tenant_id))
        return random.sample(range(n), k)

    def cell_mod_16(tenant_id, cells):
        return _h(tenant_id) % 16 % cells

    def cell_capped_at_12(tenant_id, cells):
        return _h(tenant_id) % min(cells, 12)

    def cell_by_suffix(tenant_id, cells):
        return _h(tenant_id[-4:]) % cells

    def cell_by_letter_sum(tenant_id, cells):
        return sum(map(ord, tenant_id)) % cells

    def cell_as_list_sometimes(tenant_id, cells):  # unhashable values must be a report
        h = _h(tenant_id) % cells
        return [h] if tenant_id.startswith("tenant-0") else h

    def lower_cased_queue(tenant_id):
        return f"tenant-{tenant_id.lower()}"

    def crc_queue(tenant_id):
        return f"queue-{zlib.crc32(tenant_id.encode()) % 100}"

    def capped_backlog(queues, backlog):
        return min(queues, key=lambda q: min(backlog[q], 1000))

    def int16_backlog(queues, backlog):
        small = numpy.array(backlog).astype(numpy.int16)
        return min(queues, key=lambda q: small[q])

    def first_three_only(queues, backlog):
        return min(queues[:3], key=lambda q: backlog[q])

    def first_when_long(queues, backlog):
        if backlog[queues[0]] < 1000:
            return min(queues, key=lambda q: backlog[q])
        return queues[0]

    def zero_d_for_one(tenant_id, n, k):  # .squeeze() of one queue: a 0-d array
        rng = numpy.random.default_rng(_h(tenant_id))
        return rng.choice(n, size=(k, 1), replace=False).squeeze()

    return [
        ("4.4", "a shard by hash(), cached in a module-level dict",
         _four(s, shuffle_shard=cached_hash_shard), "shuffle_shard is the same in a fresh"),
        ("4.4", "a shard at random, cached in a module-level dict",
         _four(s, shuffle_shard=cached_random_shard), "shuffle_shard is the same in a fresh"),
        ("4.4", "a cell by order of arrival, cached under an f-string key",
         _four(s, cell_of=cached_arrival_cell), "cell_of is the same in a fresh"),
        ("4.4", "a cell by hash(), cached in a module-level dict",
         _four(s, cell_of=cached_hash_cell), "cell_of is the same in a fresh"),
        ("4.4", "a queue numbered by order of arrival", _four(s, tenant_queue=queue_by_arrival),
         "tenant_queue is the same in a fresh"),
        ("4.4", "a shard by hash() of an f-string, next to an unshippable global",
         _four(s, shuffle_shard=hash_behind_a_lock), "shuffle_shard is the same in a fresh"),
        ("4.4", "a queue by hash() of str(id), next to an unshippable global",
         _four(s, tenant_queue=queue_hash_behind_a_lock), "tenant_queue is the same in a fresh"),
        ("4.4", "a cell by hash() of an f-string, next to an unshippable global",
         _four(s, cell_of=cell_hash_behind_a_lock), "cell_of is the same in a fresh"),
        ("4.4", "a shard seeded below 1000", _four(s, shuffle_shard=seed_below_1000),
         "4 of 100 queues"),
        ("4.4", "a shard seeded by one byte", _four(s, shuffle_shard=seed_of_one_byte),
         "4 of 100 queues"),
        ("4.4", "a shard from hex digits mod n", _four(s, shuffle_shard=hex_digits),
         "4 of 100 queues"),
        ("4.4", "a shard of the first 16 queues", _four(s, shuffle_shard=first_16_queues),
         "4 of 100 queues"),
        ("4.4", "two queues, then neighbours", _four(s, shuffle_shard=two_then_neighbours),
         "4 of 100 queues"),
        ("4.4", "queue 0 in half of all shards", _four(s, shuffle_shard=queue_0_for_half),
         "4 of 100 queues"),
        ("4.4", "a shard of the lower-cased id", _four(s, shuffle_shard=case_insensitive_shard),
         "lookalike tenants (same suffix, same prefix, anagrams, case) rarely share a shard"),
        ("4.4", "a shard from the reseeded global random",
         _four(s, shuffle_shard=reseeds_global_random), "global random generator alone"),
        ("4.4", "a 0-d array for one queue", _four(s, shuffle_shard=zero_d_for_one),
         "returns k distinct queues"),
        ("4.4", "a cell modulo 16, then modulo the count", _four(s, cell_of=cell_mod_16),
         "all 24, and all 40"),
        ("4.4", "a cell capped at 12 cells", _four(s, cell_of=cell_capped_at_12),
         "all 24, and all 40"),
        ("4.4", "a cell from the id's suffix", _four(s, cell_of=cell_by_suffix),
         "rarely share a cell"),
        ("4.4", "a cell by the sum of the id's letters", _four(s, cell_of=cell_by_letter_sum),
         "all 24, and all 40"),
        ("4.4", "a cell as a list for some tenants", _four(s, cell_of=cell_as_list_sometimes),
         "all 24, and all 40"),
        ("4.4", "a lower-cased queue name", _four(s, tenant_queue=lower_cased_queue),
         "its own queue"),
        ("4.4", "a queue of 100, by crc32", _four(s, tenant_queue=crc_queue), "its own queue"),
        ("4.4", "backlogs capped at 1000", _four(s, pick_queue=capped_backlog),
         "however long the queues"),
        ("4.4", "backlogs cast to int16", _four(s, pick_queue=int16_backlog),
         "however long the queues"),
        ("4.4", "the first queue once it is long", _four(s, pick_queue=first_when_long),
         "however long the queues"),
        ("4.4", "only the first three queues considered", _four(s, pick_queue=first_three_only),
         "picks the least backlogged"),

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

    memo: dict = {}

    def memoised_shard(tenant_id, n, k):  # a plain dict cache of a stable answer
        key = (tenant_id, n, k)
        if key not in memo:
            memo[key] = random.Random(seed(tenant_id)).sample(range(n), k)
        return memo[key]

    nb = _notebook(NOTEBOOK_CELL)
    return [
        ("4.4", nb["regex_validated"], nb["strict_cell"], nb["shard_by_uuid5"], pick),
        ("4.4", whole_id, nb["cell_by_partial"], memoised_shard, pick),
        ("4.4", whole_id, crc_cell, rendezvous, ties_at_random),
        ("4.4", s["tenant_queue"], numpy_cell, array_shard, numpy_pick),
        ("4.4", lru_cache(s["tenant_queue"]), lru_cache(s["cell_of"]), tuple_of_sorted, by_loop),
    ]


# --- 4.5 blast radius -------------------------------------------------------------------------


def _lookup_table(n, k):
    known = {(8, 2): 1 / 28, (5, 1): 1 / 5, (12, 4): 1 / 495, (20, 3): 1 / 1140, (6, 6): 1.0,
             (100, 2): 1 / 4950, (9, 4): 1 / 126, (6, 2): 1 / 15}
    return known.get((n, k), k / n)


def _float_factorials(n, k):
    top = bottom = 1.0
    for i in range(1, k + 1):
        top *= i
    for i in range(1, n - k + 1):
        top *= i
    for i in range(1, n + 1):
        bottom *= i
    return top / bottom


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
        ("a table of the check's pairs, k / n elsewhere", _lookup_table, "n=200, k=2"),
        ("math.gamma (overflows at n >= 171)",
         lambda n, k: math.gamma(k + 1) * math.gamma(n - k + 1) / math.gamma(n + 1),
         "n=200, k=2"),
        ("factorials in floats (inf / inf)", _float_factorials, "n=200, k=2"),
        ("k! / n**k when k > 4", lambda n, k: 1 / math.comb(n, k) if k <= 4 or k == n
         else math.factorial(k) / n ** k, "n=179, k=5"),
        ("a huge int beyond n = 50", lambda n, k: 1 / math.comb(n, k) if n < 50
         else math.comb(n, k) ** n, "n=100, k=2"),
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

    def as_decimal(n, k):
        return Decimal(1) / Decimal(math.comb(n, k))

    def by_lgamma(n, k):
        return math.exp(math.lgamma(k + 1) + math.lgamma(n - k + 1) - math.lgamma(n + 1))

    def in_float32(n, k):
        return numpy.float32(1) / numpy.float32(math.comb(n, k))

    return [("4.5", f) for f in (as_fraction, by_factorials, as_product, by_counting, as_decimal,
                                 by_lgamma, in_float32)]


MUTANTS = {"4.4": queue_mutants, "4.5": blast_mutants}
BENIGN = {"4.4": queue_benign, "4.5": blast_benign}


@pytest.mark.parametrize("exercise", sorted(MUTANTS))
def test_every_check_catches_its_classic_mistakes(solution, exercise):
    assert_caught(MUTANTS[exercise](solution))


@pytest.mark.parametrize("exercise", sorted(BENIGN))
def test_correct_answers_written_differently_pass(solution, exercise):
    assert_accepted(BENIGN[exercise](solution))


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
