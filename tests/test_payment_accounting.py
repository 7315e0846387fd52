"""The accounting invariant of lab 6, on its own: none lost, none charged twice, over seeds.

The solution's worker and redrive run the fault-injection drill (30% failures, slow calls, an
outage window, a worker killed mid-batch, a declined card) under several seeds. Every order
must end paid (charged exactly once, its record 'paid') or dead-lettered with a reason. Two
controls prove that the count can see a failure: a worker without idempotency keys charges
twice, and one that deletes before it records loses payments.
"""

from __future__ import annotations

import json
from dataclasses import replace

import lab06_solution
import pytest

from checks.lab06.common import plain_table, rig
from checks.scratch import raw_items
from environment.app.partners import PartnerError, PartnerTimeout, PaymentFailed
from environment.app.partners.drill import DRILL, drill_orders, run_drill


@pytest.fixture(scope="module")
def solution(lab):
    return lab06_solution.solution()


def drill(lab, seed, process_batch, redrive, kill_after=3):
    table = plain_table(lab, "accounting-payments")
    with rig(lab, replace(DRILL, seed=seed), table) as r:
        return run_drill(r.worker(seed=seed), r.partner, r.queues.sqs,
                         (r.queues.url, r.queues.dlq_url), lambda: raw_items(lab, table.name),
                         process_batch, redrive, drill_orders(), kill_after=kill_after)


@pytest.mark.parametrize("seed", [1, 2, 61])
def test_every_order_ends_paid_once_or_dead_lettered_with_a_reason(lab, solution, seed):
    report = drill(lab, seed, solution["process_batch"], solution["redrive"])
    assert report.killed_at is not None, report.notes
    assert not report.twice, report.summary()
    assert not report.lost, (report.lost, report.summary())
    declined = {(t, o) for t, o, amount in report.orders if amount > DRILL.limit}
    assert set(report.dead) == declined and all(report.dead.values()), report.dead
    assert report.paid == {(t, o) for t, o, _ in report.orders} - declined
    assert sum(report.charges.values()) == len(report.paid)
    assert report.moved >= 1  # the outage dead-lettered something, and it came back


def test_the_count_sees_a_double_charge(lab, solution):
    def without_keys(worker):
        messages = worker.queue.receive_messages(MaxNumberOfMessages=10)
        for message in messages:
            payment = json.loads(message.body)
            for _ in range(5):  # retries, but without a key: a timed-out charge happened
                try:
                    worker.partner.charge(payment["tenant_id"], payment["order_id"],
                                          payment["amount"], timeout=5.0)
                    break
                except (PartnerError, PartnerTimeout):
                    worker.clock.sleep(1.0)
            message.delete()

    report = drill(lab, 5, without_keys, solution["redrive"])
    assert report.twice, report.summary()


def test_the_count_sees_a_lost_payment(lab, solution):
    claim, charge = solution["claim_payment"], solution["charge_with_retries"]

    def deletes_first(worker):
        for message in worker.queue.receive_messages(MaxNumberOfMessages=10,
                                                     MessageAttributeNames=["All"]):
            message.delete()  # the bug: a worker killed after this line loses the payment
            payment = json.loads(message.body)
            key = claim(worker.table, payment["tenant_id"], payment["order_id"])
            record = {"pk": f"TENANT#{payment['tenant_id']}",
                      "sk": f"PAYMENT#{payment['order_id']}"}
            try:
                made = charge(worker.partner, {**payment, "idempotency_key": key},
                              worker.clock, worker.rng)
            except PaymentFailed as failed:
                worker.dead_letters.send_message(MessageBody=message.body, MessageAttributes={
                    "reason": {"DataType": "String", "StringValue": failed.reason}})
                continue
            worker.table.update_item(Key=record, UpdateExpression="SET #s = :s, charge_id = :c",
                                     ExpressionAttributeNames={"#s": "status"},
                                     ExpressionAttributeValues={":s": "paid",
                                                                ":c": made["charge_id"]})

    report = drill(lab, 5, deletes_first, solution["redrive"])
    assert report.lost and not report.twice, report.summary()
