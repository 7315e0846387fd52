"""The tools lab 1's checks are built on: a fresh process, a moved clock, shape reports."""

from __future__ import annotations

import functools
import hashlib
import re
import time
import uuid
from collections import Counter
from decimal import Decimal

import jwt.api_jwt
import pytest

from checks.clock import clock_ahead
from checks.framework import CaseFailed, Trial
from checks.fresh_process import call_elsewhere, unused_ids
from checks.salted_hash import hash_resalted
from checks.shapes import describe_difference, field_values

CALLS = [["tenant-c", f"order-{n}", 12] for n in range(20)]


def test_a_hash_based_shard_differs_in_another_process():
    def by_hash(tenant_id, order_id, shards):
        return hash(order_id) % shards

    there = call_elsewhere(by_hash, CALLS, timeout=15)
    assert there is not None and there != [str(by_hash(*c)) for c in CALLS]


def test_a_hashlib_shard_is_the_same_in_another_process():
    salt = "v1"  # a plain constant travels with the function

    def by_sha(tenant_id, order_id, shards):
        return int(hashlib.sha256((salt + order_id).encode()).hexdigest(), 16) % shards

    assert call_elsewhere(by_sha, CALLS, timeout=15) == [str(by_sha(*c)) for c in CALLS]


def test_what_cannot_travel_is_not_guessed():
    lock = pytest  # a module travels; an arbitrary object does not

    class Opaque:
        pass

    thing = Opaque()

    def uses_an_object(tenant_id, order_id, shards):
        return (lock, thing)

    assert call_elsewhere(uses_an_object, CALLS, timeout=15) is None
    assert call_elsewhere(lambda t, o, n: 0, CALLS, timeout=15) is None


def test_objects_that_rebuild_from_their_repr_and_partials_travel():
    pattern, namespace = re.compile(r"order-(\d+)"), uuid.UUID(int=7)
    digest, weight = functools.partial(hashlib.blake2b, digest_size=8), Decimal("1.5")

    def uses_them(tenant_id, order_id, shards):
        number = int(pattern.fullmatch(order_id).group(1))
        salted = uuid.uuid5(namespace, order_id).hex + str(weight * number)
        return int.from_bytes(digest(salted.encode()).digest(), "big") % shards

    assert call_elsewhere(uses_them, CALLS, timeout=15) == [str(uses_them(*c)) for c in CALLS]


def test_ids_asked_about_are_new_on_every_call():
    first, second = unused_ids(10), unused_ids(10)
    assert len(set(first + second)) == 20


def test_hash_is_resalted_for_strings_only_and_comes_back():
    def placement(text, number):
        return hash(text), hash(text.encode()), hash(number), hash((text, number))

    before = placement("tenant-a", 7)
    with hash_resalted([placement]):
        during = placement("tenant-a", 7)
    assert during[2] == before[2] and all(during[i] != before[i] for i in (0, 1, 3))
    assert placement("tenant-a", 7) == before and "hash" not in globals()


def test_the_clock_moves_for_pyjwt_and_time_and_comes_back():
    before = time.time()
    with clock_ahead(3600):
        assert time.time() - before >= 3599
        assert jwt.api_jwt.datetime.now().timestamp() - before >= 3599
    assert time.time() - before < 60
    assert jwt.api_jwt.datetime.now().timestamp() - before < 60


@pytest.mark.parametrize("result, says", [
    (None, "None"),
    ({"Items": []}, "a dict with keys"),
    ([{"order_id": {"S": "o-1"}}], "DynamoDB JSON"),
    (["o-1"], "a list holding"),
    ([{"id": "o-1"}], "a string 'order_id'"),
])
def test_a_wrong_shape_is_a_report(result, says):
    trial = Trial()
    with pytest.raises(CaseFailed) as failed:
        field_values(trial, result, "order_id", "orders")
    assert says in failed.value.got or says in failed.value.expected


def test_differences_are_counted_as_multisets():
    want, got = Counter(["o-1", "o-2", "o-3"]), Counter(["o-1", "o-1", "o-2", "x-9"])
    assert describe_difference(want, got, "tenant-a's") == (
        "4 items, 1 of tenant-a's missing, 1 not tenant-a's, 1 duplicated")
