"""Check 6.1: a payment proxy. Orders enqueue payment requests with their tenant; a worker
calls the flaky partner with a timeout and retries with jittered exponential backoff.

What the learner's code did is read where it cannot be routed around: the queue's messages
with the kit's own client, and every call as the partner saw it (when, with which timeout and
idempotency key, how it ended) on the simulated clock the check controls. The backoff is
judged over many seeds: bounded by the doubling schedule, doubling on average, jittered, and
the same for the same seed.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from environment.app.partners import PaymentFailed, Scenario, SimulatedClock, start_partner
from environment.app.partners.api import Partner

from ..framework import Trial, exercise, short
from .common import BASE, CAP, MAX_ATTEMPTS, TIMEOUT_LIMIT, TIMEOUT_MIN, ctx, fresh_queues

TENANT_FROM_CONTEXT = ("the tenant comes from the context (the verified caller), never from the "
                       "order dict, which holds whatever the client sent.")
BACKOFF = ("before retry n, sleep on the clock you are given for a random time between 0 and "
           f"min({CAP:g}, {BASE:g} * 2**(n-1)) seconds (full jitter), drawn from the rng you are "
           "given.")
SEEDS = range(32)


def attempts_of(partner: Partner) -> list[Any]:
    return list(partner.api.attempts)


def pauses(partner: Partner) -> list[float]:
    """The simulated time between the end of one attempt and the start of the next."""
    tried = attempts_of(partner)
    return [round(b.at - (a.at + a.elapsed), 6) for a, b in zip(tried, tried[1:], strict=False)]


def payment(order_id: str = "o-1001", amount: float = 25.0, tenant: str = "tenant-a",
            key: str = "key-6f1c") -> dict[str, Any]:
    return {"tenant_id": tenant, "order_id": order_id, "amount": amount, "idempotency_key": key}


class Charging:
    """Calls the learner's charge_with_retries against one partner, a new scenario each time."""

    def __init__(self, charge_with_retries: Any, partner: Partner, t: Trial) -> None:
        self.fn, self.partner, self.t = charge_with_retries, partner, t

    def run(self, scenario: Scenario, sent: dict[str, Any], seed: int = 7,
            fails: bool = False,
            before: Callable[[Partner], Any] | None = None) -> tuple[Partner, Any]:
        clock = self.clock = SimulatedClock()
        partner = self.partner
        partner.api.reset(scenario, clock)
        if before is not None:
            before(partner)
        client = partner.client()
        if fails:
            error = self.t.rejects(self.fn, client, dict(sent), clock, random.Random(seed),
                                   accept=(PaymentFailed,), sent=short(sent),
                                   hint="when the payment cannot go through, raise "
                                        "PaymentFailed(reason): the worker dead-letters it "
                                        "with that reason.")
            return partner, error
        return partner, self.t.call(self.fn, client, dict(sent), clock, random.Random(seed))


def check_enqueue(enqueue_payment: Any, t: Trial) -> None:
    queues = fresh_queues(t.lab, "check-enqueue")
    queue = queues.resource(queues.url)
    cases = [("tenant-a", {"order_id": "o-1001", "amount": 25.0}),
             ("tenant-zq7", {"order_id": "o-77", "amount": 12.5, "tenant_id": "tenant-b"})]
    for tenant, order in cases:
        sent = f"enqueue_payment(queue, {ctx(tenant)}, {order})"
        with t.case(f"one message per payment request ({tenant})"):
            returned = t.call(enqueue_payment, queue, ctx(tenant), dict(order))
            messages = queues.drain(queues.url)
            t.expect(len(messages) == 1, "exactly one message on the queue",
                     f"{len(messages)} messages", sent=sent,
                     hint="send one message per order with queue.send_message(...).")
        message = messages[0]
        with t.case(f"the message id returned ({tenant})"):
            t.expect(returned == message["MessageId"], repr(message["MessageId"]),
                     short(returned), sent=sent,
                     hint="return send_message(...)['MessageId']: the order service keeps it to "
                          "trace the payment.")
        with t.case(f"the body is JSON with the order id and the amount ({tenant})"):
            try:
                body = json.loads(message["Body"])
            except ValueError:
                body = None
            t.expect(isinstance(body, dict), "a JSON object as the body", message["Body"][:120],
                     sent=sent, hint="MessageBody=json.dumps({...}): the worker parses it.")
            t.expect(body.get("order_id") == order["order_id"]
                     and body.get("amount") == order["amount"]
                     and isinstance(body.get("amount"), int | float),
                     f"order_id {order['order_id']!r} and amount {order['amount']!r} (a number)",
                     short(body), sent=sent)
        with t.case(f"the tenant comes from the context ({tenant})"):
            t.expect(body.get("tenant_id") == tenant, f"tenant_id {tenant!r} in the body",
                     short(body), sent=sent, hint=TENANT_FROM_CONTEXT)
        with t.case(f"the tenant travels as a message attribute ({tenant})"):
            attribute = message.get("MessageAttributes", {}).get("tenant_id", {})
            t.expect(attribute.get("StringValue") == tenant
                     and attribute.get("DataType") == "String",
                     f"MessageAttributes tenant_id = {tenant!r} (String)",
                     short(message.get("MessageAttributes", {})), sent=sent,
                     hint="tenant context travels with the message, where a consumer (and an "
                          "SNS or EventBridge filter) reads it without parsing the body.",
                     code_hint="MessageAttributes={'tenant_id': {'DataType': 'String', "
                               "'StringValue': ctx.tenant_id}}")


def check_charge(charge_with_retries: Any, t: Trial) -> None:
    with start_partner() as partner:
        charge_cases(Charging(charge_with_retries, partner, t), t)


def charge_cases(charging: Charging, t: Trial) -> None:
    sent = payment()
    with t.case("a healthy partner: one call, its charge returned"):
        partner, charge = charging.run(Scenario(script=("ok",)), sent)
        t.expect(len(attempts_of(partner)) == 1, "one call to the partner",
                 f"{len(attempts_of(partner))} calls", sent=short(sent))
        charge_id = partner.api.charges[0]["charge_id"]
        t.expect(isinstance(charge, dict) and charge.get("charge_id") == charge_id,
                 f"the partner's charge (a dict with charge_id {charge_id!r})", short(charge),
                 sent=short(sent), hint="return what partner.charge(...) returned.")
        t.expect(not charging.clock.sleeps, "no pause (nothing failed)",
                 f"pauses {[round(s, 3) for _, s in charging.clock.sleeps]} s", sent=short(sent),
                 hint="pause before a retry only, never before the first call.")
    with t.case("every call has a timeout"):
        timeout = attempts_of(partner)[0].timeout
        t.expect(timeout is not None and TIMEOUT_MIN <= timeout <= TIMEOUT_LIMIT,
                 f"a timeout between {TIMEOUT_MIN:g} and {TIMEOUT_LIMIT:g} s",
                 f"timeout={timeout}",
                 hint="a call without a timeout waits as long as the partner hangs, and holds "
                      "the message and the worker with it; one shorter than the partner's "
                      "ordinary answers (up to 0.4 s) gives up on calls that were fine.",
                 code_hint="partner.charge(..., timeout=TIMEOUT)")
    with t.case("a 503 and a 429, then a success: retried, with a pause on the clock"):
        partner, charge = charging.run(Scenario(script=("error", "throttled", "ok")), sent)
        tried = attempts_of(partner)
        t.expect(len(tried) == 3 and isinstance(charge, dict) and "charge_id" in charge,
                 "three calls and the charge of the third", f"{len(tried)} calls, returned "
                 f"{short(charge, 80)}", sent=short(sent) + " (a 503, then a 429)",
                 hint="a 503 and a 429 (too many requests) are worth another try: "
                      "PartnerError.retryable says so.")
        gaps = pauses(partner)
        t.expect(all(gap > 0 for gap in gaps) and len(charging.clock.sleeps) == 2,
                 "a pause before each retry (two), and no other",
                 f"pauses of {gaps} s between calls, {len(charging.clock.sleeps)} clock.sleep "
                 "calls", hint="retrying at once hammers a partner that is already "
                 "struggling; " + BACKOFF)
    with t.case("a hung call: given up after the timeout, retried, charged once"):
        partner, charge = charging.run(Scenario(script=("slow", "ok")), sent)
        t.expect(isinstance(charge, dict) and "charge_id" in charge, "the charge",
                 short(charge), sent=short(sent),
                 hint="PartnerTimeout means 'no answer in time': retry it like a 503.")
    with t.case("every attempt carries the payment's idempotency key"):
        partner, _ = charging.run(Scenario(script=("slow", "error", "ok")), sent)
        keys = [a.idempotency_key for a in attempts_of(partner)]
        t.expect(keys and all(k == sent["idempotency_key"] for k in keys),
                 f"idempotency_key={sent['idempotency_key']!r} on every call", f"keys {keys}",
                 hint="a call that timed out may have charged the card; only the same key "
                      "lets the partner see the retry as the same charge.")
        t.expect(len(partner.api.charges) == 1, "one charge", f"{len(partner.api.charges)}",
                 sent=short(sent))
    with t.case(f"a partner that keeps failing: {MAX_ATTEMPTS} attempts, then PaymentFailed"):
        partner, error = charging.run(Scenario(script=("error",) * 12), sent, fails=True)
        tried = len(attempts_of(partner))
        t.expect(tried == MAX_ATTEMPTS, f"{MAX_ATTEMPTS} calls", f"{tried} calls",
                 sent=short(sent), hint=f"at most MAX_ATTEMPTS = {MAX_ATTEMPTS} calls per "
                                        "payment; then give up and let the DLQ hold it.")
        t.expect(isinstance(getattr(error, "reason", None), str) and error.reason.strip() != "",
                 "PaymentFailed with a reason", short(error))
        slept = len(charging.clock.sleeps)
        t.expect(slept == MAX_ATTEMPTS - 1, f"{MAX_ATTEMPTS - 1} pauses (between the calls), "
                 "none after the last", f"{slept} clock.sleep calls", sent=short(sent),
                 hint="after the last attempt, give up at once: a pause there only delays the "
                      "dead letter.")
    with t.case("every retry has a timeout too"):
        timeouts = [a.timeout for a in attempts_of(partner)]
        t.expect(all(x is not None and TIMEOUT_MIN <= x <= TIMEOUT_LIMIT for x in timeouts),
                 f"a timeout between {TIMEOUT_MIN:g} and {TIMEOUT_LIMIT:g} s on every call",
                 f"timeouts {timeouts}", hint="a retry waits as long as its timeout allows; "
                 "a timeout that grows with each retry is a hang with extra steps.")
    with t.case("a declined card: not retried, PaymentFailed with the partner's reason"):
        declined = payment(amount=25_000.0)
        partner, error = charging.run(Scenario(), declined, fails=True)
        tried = len(attempts_of(partner))
        t.expect(tried == 1, "one call (a 402 will be a 402 again)", f"{tried} calls",
                 sent=short(declined),
                 hint="PartnerError.retryable is False for 4xx answers: retrying cannot help.")
        t.expect("declined" in str(getattr(error, "reason", "")),
                 "a reason that says what the partner said ('card declined ...')", short(error))
    with t.case("a key another charge holds (409): not retried, PaymentFailed"):
        other = payment(order_id="o-0999")

        def taken(partner: Partner) -> None:
            partner.client().charge("tenant-a", "o-0999", 25.0,
                                    idempotency_key=sent["idempotency_key"], timeout=5.0)

        partner, error = charging.run(Scenario(), sent, fails=True, before=taken)
        tried = [a for a in attempts_of(partner) if a.order_id == sent["order_id"]]
        t.expect(len(tried) == 1, "one call (a 409 will be a 409 again)", f"{len(tried)} calls",
                 sent=f"{short(sent)}, its key already used by {short(other)}",
                 hint="every 4xx but 429 is the partner saying no: PartnerError.retryable is "
                      "False; retrying cannot help.")
    check_backoff(charging, sent, t)


@contextmanager
def constants(fn: Any, **values: float) -> Iterator[bool]:
    """The lab's constants set to other values in the learner function's own module for a
    block (True), or nothing done (False) when it has none of them."""
    space = getattr(fn, "__globals__", {})
    if not all(isinstance(space.get(name), int | float) for name in values):
        yield False
        return
    saved = {name: space[name] for name in values}
    space.update(values)
    try:
        yield True
    finally:
        space.update(saved)


def backoff_runs(charging: Charging, scenario: Scenario, sent: dict[str, Any],
                 seeds: range) -> list[list[float]]:
    runs = []
    for seed in seeds:
        partner, _ = charging.run(scenario, sent, seed=seed)
        runs.append(pauses(partner))
    return runs


def expect_within(t: Trial, runs: list[list[float]], cap: float, count: int) -> None:
    for gaps in runs:
        bounds = [min(cap, BASE * 2 ** n) for n in range(len(gaps))]
        over = [(n + 1, g, b) for n, (g, b) in enumerate(zip(gaps, bounds, strict=True))
                if g > b * 1.001]
        t.expect(len(gaps) == count and not over,
                 f"{count} pauses, pause n at most min({cap:g}, {BASE:g} * 2**(n-1)) s",
                 f"pauses {gaps}", hint=BACKOFF)


def check_backoff(charging: Charging, sent: dict[str, Any], t: Trial) -> None:
    four = Scenario(script=("error",) * 4 + ("ok",))
    with t.case("the pauses stay within the doubling schedule"):
        runs = []
        for seed in SEEDS:  # one at a time: a pause the clock refuses is reported here
            partner, _ = charging.run(four, sent, seed=seed)
            runs.append(pauses(partner))
        expect_within(t, runs, CAP, 4)
    with t.case("the pauses double from one retry to the next"):
        bounds = [min(CAP, BASE * 2 ** n) for n in range(4)]
        longest = [max(gaps[n] for gaps in runs) for n in range(4)]
        short_of = [n + 1 for n in range(4) if longest[n] < 0.75 * bounds[n]]
        t.expect(not short_of, f"over {len(runs)} seeds, pauses up to (nearly) {bounds} s",
                 f"the longest pauses were {[round(x, 2) for x in longest]} s",
                 hint="exponential backoff: each retry may wait twice as long as the one before; "
                      "a fixed or linearly growing pause keeps a struggling partner busy.")
    with t.case("the pauses are jittered"):
        distinct = [len({round(gaps[n], 6) for gaps in runs}) for n in range(4)]
        t.expect(min(distinct) >= len(runs) // 2, "different pauses for different seeds",
                 f"{distinct} distinct pauses per retry over {len(runs)} seeds",
                 hint="without jitter, every worker that failed at the same moment retries at "
                      "the same moment too (a thundering herd); " + BACKOFF)
    with t.case("the same seed, the same pauses"):
        partner, _ = charging.run(four, sent, seed=SEEDS[3])
        t.expect(pauses(partner) == runs[3], f"the pauses {runs[3]} again", pauses(partner),
                 hint="draw the jitter from the rng you are given (rng.uniform), not from the "
                      "random module: then a scenario replays exactly.")
    with t.case(f"the cap holds: with CAP = {SMALL_CAP:g}, no pause longer"):
        with constants(charging.fn, CAP=SMALL_CAP) as patched:
            if not patched:
                t.expect(False, "your function reading MAX_ATTEMPTS, BASE and CAP from the "
                         "notebook's constants", "no number CAP among its globals",
                         hint="use the constants of the exercise cell (CAP, BASE, "
                              "MAX_ATTEMPTS), not numbers of your own.")
            runs = backoff_runs(charging, four, sent, range(16))
        expect_within(t, runs, SMALL_CAP, 4)
        longest = max(gaps[3] for gaps in runs)
        t.expect(longest >= 0.75 * SMALL_CAP, f"over 16 seeds, a fourth pause near {SMALL_CAP:g} "
                 "s", f"at most {longest:.2f} s", hint=BACKOFF)


SMALL_CAP = 3.0  # makes the cap bind within MAX_ATTEMPTS (the lab's 20 s never does)


@exercise("6.1", "a payment proxy: queue, timeout, retries with backoff",
          ("enqueue_payment", "charge_with_retries"),
          hint="enqueue_payment sends one JSON message per order with the tenant of the context "
               "(body and attribute); charge_with_retries calls the partner with a timeout and "
               "the payment's idempotency key, retries what is retryable after a jittered "
               f"exponential pause on the clock, and raises PaymentFailed(reason) after "
               f"{MAX_ATTEMPTS} attempts or at once for a 4xx.",
          code_hint="for attempt in range(MAX_ATTEMPTS): try: return partner.charge(..., "
                    "idempotency_key=payment['idempotency_key'], timeout=TIMEOUT) except "
                    "(PartnerError, PartnerTimeout) as error: if not error.retryable or last: "
                    "raise PaymentFailed(str(error)); clock.sleep(rng.uniform(0, min(CAP, "
                    "BASE * 2 ** attempt)))")
def check_proxy(enqueue_payment: Any, charge_with_retries: Any, t: Trial) -> None:
    check_enqueue(enqueue_payment, t)
    check_charge(charge_with_retries, t)
