"""The partner payment API of lab 6, tested like a library: seeded faults, a simulated clock
that moves only when someone waits on it, idempotency keys, simulated timeouts, the ledger."""

from __future__ import annotations

import pytest
import requests

from environment.app.partners import (
    PartnerError,
    PartnerTimeout,
    Scenario,
    SimulatedClock,
    WorkerKilled,
    start_partner,
)
from environment.app.partners.drill import drill_orders


@pytest.fixture
def partner():
    with start_partner(Scenario(), SimulatedClock()) as running:
        yield running


def use(partner, scenario):
    clock = SimulatedClock()
    partner.api.reset(scenario, clock)
    return partner.client(), clock


def test_a_scenario_is_a_pure_function_of_its_seed_and_the_call_number():
    noisy = Scenario(seed=4, failure_rate=0.3, slow_rate=0.1)
    fates = [noisy.fate(n, 0.0) for n in range(200)]
    assert fates == [Scenario(seed=4, failure_rate=0.3, slow_rate=0.1).fate(n, 0.0)
                     for n in range(200)]
    assert fates != [Scenario(seed=5, failure_rate=0.3, slow_rate=0.1).fate(n, 0.0)
                     for n in range(200)]
    counts = {fate: sum(f == fate for f, _ in fates) for fate in ("ok", "error", "slow")}
    assert 40 <= counts["error"] <= 80 and 8 <= counts["slow"] <= 35, counts


def test_scripts_come_first_and_outages_fail_every_call_inside_their_window():
    scenario = Scenario(script=("error", "slow"), outages=((10.0, 20.0),), outage_latency=30.0)
    assert scenario.fate(0, 15.0)[0] == "error" and scenario.fate(1, 0.0) == ("slow", 30.0)
    assert scenario.fate(2, 10.0) == ("down", 30.0) and scenario.fate(3, 19.99)[0] == "down"
    assert scenario.fate(4, 20.0)[0] == "ok" and scenario.fate(5, 9.99)[0] == "ok"
    assert scenario.recovered().fate(2, 15.0)[0] == "ok"
    with pytest.raises(ValueError):
        Scenario(script=("flaky",))


def test_the_clock_moves_only_when_told():
    clock = SimulatedClock()
    clock.sleep(1.5)
    clock.advance(0.5)
    clock.advance_to(1.0)  # never backwards
    assert clock.now() == 2.0 and clock.sleeps == [(0.0, 1.5)]
    for wrong in (-1, float("nan"), "1"):
        with pytest.raises(ValueError):
            clock.sleep(wrong)


def test_a_key_replays_the_first_charge_and_no_key_charges_again(partner):
    client, _ = use(partner, Scenario())
    first = client.charge("tenant-a", "o-1", 25.0, idempotency_key="k1")
    again = client.charge("tenant-a", "o-1", 25.0, idempotency_key="k1")
    assert again == {**first, "replayed": True} and not first["replayed"]
    client.charge("tenant-a", "o-2", 25.0)
    client.charge("tenant-a", "o-2", 25.0)
    assert partner.api.double_charges() == {("tenant-a", "o-2"): 2}
    with pytest.raises(PartnerError) as reused:
        client.charge("tenant-b", "o-1", 25.0, idempotency_key="k1")
    assert reused.value.status == 409 and not reused.value.retryable
    assert len(client.charges()) == 3


def test_a_slow_call_costs_the_client_its_timeout_and_may_still_charge(partner):
    client, clock = use(partner, Scenario(script=("slow", "slow"), slow_latency=30.0))
    with pytest.raises(PartnerTimeout):
        client.charge("tenant-a", "o-1", 25.0, idempotency_key="k", timeout=5.0)
    assert clock.now() == 5.0 and len(partner.api.charges) == 1  # charged, never heard
    client.charge("tenant-a", "o-1", 25.0, idempotency_key="k")  # no timeout: waits it out
    assert clock.now() == 35.0 and len(partner.api.charges) == 1
    first, second = partner.api.attempts
    assert (first.timeout, first.timed_out, second.timeout, second.timed_out) == (5.0, True,
                                                                                 None, False)


def test_failures_and_declines_say_whether_a_retry_can_help(partner):
    client, _ = use(partner, Scenario(script=("error",), limit=100.0))
    with pytest.raises(PartnerError) as unavailable:
        client.charge("tenant-a", "o-1", 25.0)
    assert unavailable.value.status == 503 and unavailable.value.retryable
    with pytest.raises(PartnerError) as declined:
        client.charge("tenant-a", "o-1", 250.0)
    assert declined.value.status == 402 and not declined.value.retryable
    assert "declined" in declined.value.detail and partner.api.charges == []


@pytest.mark.parametrize("body", [None, [], {"tenant_id": "", "order_id": "o", "amount": 1},
                                  {"tenant_id": "t", "order_id": "o", "amount": True},
                                  {"tenant_id": "t", "order_id": "o", "amount": -3}])
def test_an_invalid_request_is_a_400_and_costs_nothing(partner, body):
    _, clock = use(partner, Scenario())
    answer = requests.post(f"{partner.url}/v1/charges", json=body, timeout=5)
    assert answer.status_code == 400 and partner.api.attempts == [] and clock.now() == 0.0


def test_a_killed_worker_dies_after_the_charge_and_except_exception_does_not_save_it(partner):
    _, _ = use(partner, Scenario())
    client = partner.client(kill_after=2)
    client.charge("tenant-a", "o-1", 10.0)
    with pytest.raises(WorkerKilled):
        try:
            client.charge("tenant-a", "o-2", 10.0)
        except Exception:  # noqa: BLE001 - what a worker's catch-all does
            pytest.fail("WorkerKilled is not an Exception")
    assert len(partner.api.charges) == 2
    client.charge("tenant-a", "o-3", 10.0)  # one death per client


def test_the_ledger_and_the_call_log_are_served_over_http(partner):
    client, _ = use(partner, Scenario(script=("error", "ok")))
    with pytest.raises(PartnerError):
        client.charge("tenant-a", "o-1", 10.0, idempotency_key="k")
    client.charge("tenant-a", "o-1", 10.0, idempotency_key="k")
    attempts = requests.get(f"{partner.url}/v1/attempts", timeout=5).json()["attempts"]
    assert [(a["fate"], a["status"], a["idempotency_key"]) for a in attempts] == [
        ("error", 503, "k"), ("ok", 201, "k")]
    assert [c["charge_id"] for c in client.charges()] == ["ch_00001"]


def test_the_drill_orders_repeat_ids_across_tenants_and_decline_one():
    orders = drill_orders()
    assert len(orders) == 20 and len({(t, o) for t, o, _ in orders}) == 20
    assert sum(1 for _, o, _ in orders if o == "o-1") == 4
    assert [amount for *_, amount in orders].count(25_000.0) == 1
