"""The queue model of lab 4: deterministic, counts every message, and orders strategies as SQS does.

Small hand-made cases pin the model's arithmetic (who waits how long behind whom, the fair
queue's rule, lost messages); the experiments are pinned by the ordering they must show; the
run on real queues of the emulator is asserted with coarse bounds and must leave no queue behind.
"""

from __future__ import annotations

import hashlib
import math
import random

import pytest

from environment.app.queueing import experiment, live, strategies
from environment.app.queueing.load import Flood, Message, noisy_load
from environment.app.queueing.measure import percentile
from environment.app.queueing.model import simulate


def _seed(tenant_id: str) -> int:
    return int.from_bytes(hashlib.sha256(tenant_id.encode()).digest()[:8], "big")


def tenant_queue(tenant_id: str) -> str:
    return f"tenant-{tenant_id}"


def cell_of(tenant_id: str, cells: int) -> int:
    return _seed(tenant_id) % cells


def shuffle_shard(tenant_id: str, n: int, k: int) -> list[int]:
    return random.Random(_seed(tenant_id)).sample(range(n), k)


def pick_queue(queues: list[int], backlog: list[int]) -> int:
    return min(queues, key=lambda q: backlog[q])


REFERENCE = (tenant_queue, cell_of, shuffle_shard, pick_queue)


def test_percentiles_are_nearest_rank():
    values = [5.0, 1.0, 4.0, 2.0, 3.0]
    assert [percentile(values, q) for q in (1, 20, 50, 99, 100)] == [1.0, 1.0, 3.0, 5.0, 5.0]
    assert percentile([], 50) == 0.0


def test_the_load_is_seeded_and_a_new_tenant_moves_nobody():
    flood = Flood("tenant-d", 100, 1, 2)
    one = noisy_load(["tenant-a", "tenant-d"], 5, flood, 4, seed=3)
    assert one == noisy_load(["tenant-a", "tenant-d"], 5, flood, 4, seed=3)
    assert one != noisy_load(["tenant-a", "tenant-d"], 5, flood, 4, seed=4)
    more = noisy_load(["tenant-a", "tenant-d", "tenant-e"], 5, flood, 4, seed=3)
    assert [(m.sent_at, m.tenant) for m in more if m.tenant != "tenant-e"] == \
        [(m.sent_at, m.tenant) for m in one]
    flooding = [m for m in one if m.tenant == "tenant-d" and 1 <= m.sent_at < 2]
    assert len(flooding) > 50


def test_a_fifo_queue_serves_in_order_of_arrival():
    messages = [Message(0.0, "a", 0), Message(0.0, "b", 1), Message(0.5, "a", 2),
                Message(5.0, "b", 3)]
    run = simulate(messages, lambda tenant, backlog: "q", {"q": 1.0})
    assert [(s.message.number, s.delay) for s in run.served] == [(0, 0.0), (1, 1.0), (2, 1.5),
                                                                 (3, 0.0)]


def test_the_router_sees_each_queues_backlog_at_the_instant_it_sends():
    seen = []
    messages = [Message(t, "a", n) for n, t in enumerate((0.0, 0.0, 0.0, 2.5))]

    def route(tenant, backlog):
        seen.append(dict(backlog))
        return "q"

    simulate(messages, route, {"q": 1.0, "r": 1.0})
    assert seen == [{"q": 0, "r": 0}, {"q": 0, "r": 0}, {"q": 1, "r": 0}, {"q": 0, "r": 0}]


def test_a_message_sent_nowhere_is_counted_lost():
    messages = [Message(float(n), "ab"[n % 2], n) for n in range(6)]
    run = simulate(messages, lambda tenant, backlog: None if tenant == "b" else "q", {"q": 2.0})
    assert len(run.served) == 3 and [m.tenant for m, _ in run.lost] == ["b"] * 3
    assert run.sent() == {"a": 3, "b": 3}


def test_a_fair_queue_serves_quiet_groups_first_once_a_group_is_noisy():
    flood = [Message(0.0, "noisy", n) for n in range(40)]
    quiet = Message(0.1, "quiet", 40)
    fair = simulate([*flood, quiet], lambda tenant, backlog: "q", {"q": 1.0}, fair=True)
    fifo = simulate([*flood, quiet], lambda tenant, backlog: "q", {"q": 1.0})
    delay = {s.message.number: s.delay for s in fair.served}
    assert delay[40] == pytest.approx(0.9)  # right after the message in service
    assert {s.message.number: s.delay for s in fifo.served}[40] == pytest.approx(39.9)
    # Below AWS's minimum of 30 messages a group is not noisy: first come, first served.
    few = [Message(0.0, "busy", n) for n in range(20)] + [Message(0.1, "quiet", 20)]
    served = simulate(few, lambda tenant, backlog: "q", {"q": 1.0}, fair=True).served
    assert served[-1].message.tenant == "quiet"


def test_the_experiment_is_deterministic_and_orders_the_strategies():
    setup = experiment.Setup()
    first = experiment.compare(setup, experiment.layouts(setup, *REFERENCE))
    again = experiment.compare(setup, experiment.layouts(setup, *REFERENCE))
    assert first == again
    by = {s.strategy.split(" (")[0]: s for s in first}
    assert all(s.sent == s.served for s in first)
    assert by["shared queue"].p99 > 5.0 and by["shared queue"].p50 > 1.0
    for isolated in ("queue per tenant", "shuffle shards", "SQS fair queue"):
        assert by[isolated].p99 < 0.05, by[isolated]
    assert by["2 cells"].p99 > by["shared queue"].p99  # cellmates, half the consumers


def test_shuffle_sharding_hurts_exactly_the_cornered_tenants():
    run = experiment.blast(8, 2, 561)
    assert run.lost == 0 and run.hurt == run.cornered and run.quiet == 560
    assert abs(run.measured - 1 / math.comb(8, 2)) < 4 * math.sqrt(1 / 28 / 560)


def test_the_most_backlogged_choice_hurts_everyone_near_the_flood():
    run = experiment.blast(8, 2, 561, pick_queue=lambda queues, backlog: max(
        queues, key=lambda q: backlog[q]))
    # The noisy tenant then floods one queue, and every tenant with that queue joins it:
    # 1 - C(7, 2) / C(8, 2) = 1 / 4 of them, against 1 / 28 with the less backlogged choice.
    assert 0.2 < run.measured < 0.3 and run.lost == 0


def test_the_layouts_split_the_same_capacity():
    setup = experiment.Setup()
    for layout in experiment.layouts(setup, *REFERENCE):
        assert sum(layout.capacity.values()) == pytest.approx(setup.capacity), layout.name


def test_on_real_queues_the_strategies_keep_their_order_and_leave_nothing(lab):
    setup = live.LiveSetup()
    layouts = experiment.layouts(experiment.Setup(), *REFERENCE)[:4]
    results = {s.strategy.split(" (")[0]: s for s in
               (live.run_layout(lab.settings, setup, layout) for layout in layouts)}
    assert all(s.sent == s.served for s in results.values())
    assert results["shared queue"].p99 >= 3
    assert results["queue per tenant"].p99 <= 1 and results["shuffle shards"].p99 <= 1
    assert results["2 cells"].p99 > results["shared queue"].p99
    groups = live.fair_queue_accepts_message_groups(lab.settings)
    assert sorted(groups.values()) == ["tenant-a", "tenant-d"]
    left = lab.client("sqs").list_queues(QueueNamePrefix=lab.settings.name(live.RUN_PREFIX))
    assert not left.get("QueueUrls")


def test_a_strategy_that_fails_on_real_queues_still_deletes_them(lab):
    def broken(tenant_id: str) -> str:
        if tenant_id == "tenant-d":
            raise NotImplementedError("exercise 4.4 is not done yet")
        return f"tenant-{tenant_id}"

    layout = strategies.per_tenant(lambda t: f"tenant-{t}", ("tenant-a", "tenant-d"), 8.0)
    broken_layout = strategies.Layout(layout.name, lambda t, b: broken(t), layout.capacity)
    with pytest.raises(NotImplementedError):
        live.run_layout(lab.settings, live.LiveSetup(tenants=("tenant-a", "tenant-d")),
                        broken_layout)
    left = lab.client("sqs").list_queues(QueueNamePrefix=lab.settings.name(live.RUN_PREFIX))
    assert not left.get("QueueUrls")
