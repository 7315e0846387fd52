"""Check 4.3: a token bucket per tenant, sized from the quota claims, on a simulated clock.

The learner's ``make_throttle(clock)`` is handed a clock the check moves by hand, so bursts,
refills and waits are exact and no case depends on how fast the machine is. Buckets are
compared tenant against tenant (same tier, other tier, two users of one tenant), quotas come
from tokens nobody can have hard-coded (minted with the emulator's key), and the last case
sends the requests through the kit's router to see the 429 and its Retry-After. Rates differ
from bursts (tenant-b, 8 and 10), quotas change between requests, waits are fractional (rate
0.4), a flood of 50 meets the other tenants, client headers rotate on every request, and the
clock starts where no threshold can tell it from another.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from typing import Any

import requests

from environment.account.tenants import TENANTS
from environment.app.router import create_router, service_urls, wait_seconds
from environment.app.serving import serve

from ..answers import Reply
from ..forgery import attacker_key, minted, segments, signed
from ..framework import NotStarted, Trial, exercise, on_the_main_thread, short
from ..scratch import kit_table
from .common import (
    SPOOFED,
    TOKEN_REFUSALS,
    as_user,
    headers,
    kit_route,
    only_the_token,
    running_deployments,
    tenant,
)

STEP = 1 / 64  # exact in binary, so refills add up without rounding noise
BUCKET = ("one bucket per tenant (custom:tenant_id), holding at most custom:quota_burst "
          "tokens, refilled at custom:quota_rate tokens per second of the clock you were "
          "given; a request takes one token or waits.")
PER_TENANT = ("key the buckets by the verified custom:tenant_id: not one bucket for all, not "
              "one per user, not one per tier.")
ON_THE_CLOCK = ("refill from the time elapsed on the clock make_throttle was given: tokens += "
                "(now - last) * rate, capped at the burst, kept as a float; and a refused "
                "request takes no token.")


class SimClock:
    """A clock that only moves when the check says so."""

    def __init__(self) -> None:
        # a whole number of any magnitude below 10**6, so no threshold tells the check's
        # clock from another (whole, so adding 1/64 s stays exact)
        self.now = float(secrets.randbelow(10 ** (1 + secrets.randbelow(6))))

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class Bucket:
    """The learner's throttle on a fresh simulated clock, asked one request at a time."""

    def __init__(self, t: Trial, make_throttle: Callable) -> None:
        self.t, self.clock = t, SimClock()
        self.admit = t.call(make_throttle, self.clock, hint="make_throttle(clock) returns the "
                            "function that admits requests.")
        t.expect(callable(self.admit), "a function admit(headers)", short(self.admit),
                 hint="make_throttle builds the buckets and returns a function of the request's "
                      "headers (a closure over the buckets and the clock).")

    def wait(self, given: Any, sent: str) -> float:
        """The learner's answer for one request: 0 (admitted) or seconds to wait."""
        found = self.t.call(self.admit, given, hint=BUCKET)
        seconds = wait_seconds(found)
        self.t.expect(seconds is not None and seconds >= 0,
                      "0 when the request may pass, else the seconds to wait (> 0)", short(found),
                      sent=sent,
                      hint="return a finite number: 0 admits, a positive wait refuses (the "
                           "router turns it into 429 and Retry-After).")
        return float(seconds or 0)

    def admitted(self, given: Any, sent: str, count: int) -> list[bool]:
        return [self.wait(given, sent) == 0 for _ in range(count)]


def _exactly(t: Trial, bucket: Bucket, given: Any, sent: str, n: int, hint: str,
             extra: int = 1) -> None:
    """``n`` requests pass now, then ``extra`` more are refused."""
    got = bucket.admitted(given, sent, n + extra)
    passed = sum(got)
    t.expect(got == [True] * n + [False] * extra,
             f"{n} admitted, then {extra} refused", f"{passed} of {n + extra} admitted "
             f"({''.join('+' if a else '-' for a in got)})", sent=sent, hint=hint)


@exercise(
    "4.3", "per-tenant throttling from the quota claims", ("make_throttle",),
    hint=BUCKET,
    code_hint="in admit: claims = verify_id_token(lab.identity, bearer_token(headers)); rate, "
              "burst = float(claims['custom:quota_rate']), float(claims['custom:quota_burst']); "
              "tokens, last = buckets.get(tenant, (burst, now)); tokens = min(burst, tokens + "
              "(now - last) * rate); if tokens >= 1: store (tokens - 1, now), return 0; else "
              "store (tokens, now), return (1 - tokens) / rate",
)
def check_throttling(make_throttle, t: Trial) -> None:
    lab = t.lab
    users = {tenant_.id: tenant_.users for tenant_ in TENANTS}
    for tenant_ in TENANTS[:3]:
        rate, burst = tenant_.quota
        # on the main thread, where a notebook calls admit, too
        with t.case(f"{tenant_.id} ({tenant_.tier}): a burst of exactly {burst} passes"), \
                on_the_main_thread():
            sent = f"{burst + 2} requests of {tenant_.users[0]} at one instant"
            _exactly(t, Bucket(t, make_throttle), as_user(lab, tenant_.users[0]), sent, burst,
                     BUCKET, extra=2)
    with t.case("one tenant's burst never spends another's budget"):
        bucket = Bucket(t, make_throttle)
        _exactly(t, bucket, as_user(lab, users["tenant-a"][0]), "tenant-a's flood of 50", 5,
                 BUCKET, extra=45)
        for other in ("tenant-d", "tenant-c", "tenant-b"):
            burst = tenant(other).quota[1]
            _exactly(t, bucket, as_user(lab, users[other][0]),
                     f"{other}'s requests, right after tenant-a spent its burst", burst,
                     PER_TENANT)
    with t.case("every user of a tenant draws on the tenant's one bucket"):
        bucket = Bucket(t, make_throttle)
        alice, arthur = users["tenant-a"]
        got = bucket.admitted(as_user(lab, alice), alice, 3)
        got += bucket.admitted(as_user(lab, arthur), arthur, 3)
        t.expect(got == [True] * 5 + [False], "5 of 6 admitted (3 by alice, 2 by arthur)",
                 f"{''.join('+' if a else '-' for a in got)}",
                 sent="3 requests of alice, then 3 of arthur (both tenant-a), at one instant",
                 hint=PER_TENANT)
    _email_is_not_the_tenant(t, make_throttle)
    with t.case("the quota comes from the verified token, not from headers"):
        sent = (f"requests of alice with headers {SPOOFED}, and X-Forwarded-For, X-Real-IP and "
                "User-Agent new on every request")
        bucket, got, read = Bucket(t, make_throttle), [], []
        for n in range(8):
            given = as_user(lab, users["tenant-a"][0], {
                **SPOOFED, "X-Forwarded-For": f"203.0.113.{n + 1}", "X-Real-IP": f"198.51.100.{n}",
                "User-Agent": f"client/{n}"})
            got.append(bucket.wait(given, sent) == 0)
            read += given.typed()
        only_the_token(t, list(dict.fromkeys(read)), sent, "read the quota from the verified "
                       "token's claims and key the bucket by its tenant: every header but "
                       "Authorization is typed by the caller (a new X-Forwarded-For per "
                       "request is a new budget).")
        t.expect(got == [True] * 5 + [False] * 3, "5 admitted, then 3 refused",
                 "".join("+" if a else "-" for a in got), sent=sent, hint=PER_TENANT)
    _quotas_from_claims(t, make_throttle)
    _refills(t, make_throttle)
    _retry_after(t, make_throttle)
    _quota_changes(t, make_throttle)
    _through_the_router(t, make_throttle)


def _email_is_not_the_tenant(t: Trial, make_throttle: Callable) -> None:
    """alice's token minted for another tenant: its own bucket, though the email is alice's."""
    lab = t.lab
    alice = TENANTS[0].users[0]
    other = f"tenant-{secrets.token_hex(2)}"
    token = minted(lab.id_token(alice), **{"custom:tenant_id": other})
    name = "the bucket is the token's tenant, not the user's email or name"
    if token is None:
        t.skip(name, "the emulator's signing key is not at hand")
        return
    with t.case(name):
        bucket = Bucket(t, make_throttle)
        _exactly(t, bucket, as_user(lab, alice), "tenant-a's burst", 5, BUCKET)
        _exactly(t, bucket, headers(token), f"then a token of {alice} whose custom:tenant_id "
                 f"says {other}", 5, PER_TENANT)


def _quotas_from_claims(t: Trial, make_throttle: Callable) -> None:
    lab = t.lab
    alice = TENANTS[0].users[0]
    genuine = lab.id_token(alice)
    token = minted(genuine, **{"custom:quota_rate": "2", "custom:quota_burst": "3"})
    name = "a quota your code has not seen: rate 2, burst 3 in tenant-a's token"
    if token is None:
        t.skip(name, "the emulator's signing key is not at hand")
    else:
        with t.case(name):
            _exactly(t, Bucket(t, make_throttle), headers(token),
                     "requests with a token of tenant-a whose claims say rate 2, burst 3", 3,
                     "size each bucket from the token's own claims, not from a table of tiers: "
                     "quotas change per tenant without a deploy.")
    _, claims = segments(genuine)
    forged = signed({**claims, "custom:quota_burst": "1000", "custom:quota_rate": "1000"},
                    attacker_key())
    with t.case("a forged token with a bigger quota gets no budget"):
        t.rejects(Bucket(t, make_throttle).admit, headers(forged),
                  accept=(*TOKEN_REFUSALS, PermissionError),
                  sent="a token of tenant-a re-signed by an attacker with burst 1000",
                  hint="verify the token before you trust its quota: whoever can write the "
                       "claims could give themselves any budget.")


def _quota_changes(t: Trial, make_throttle: Callable) -> None:
    """A tenant's quota raised between two requests: same bucket, new size."""
    lab = t.lab
    alice = TENANTS[0].users[0]
    raised = minted(lab.id_token(alice), **{"custom:quota_rate": "5", "custom:quota_burst": "8"})
    name = "a tenant whose quota is raised keeps its bucket, sized by the new claims"
    if raised is None:
        t.skip(name, "the emulator's signing key is not at hand")
        return
    with t.case(name):
        bucket = Bucket(t, make_throttle)
        _exactly(t, bucket, as_user(lab, alice), "tenant-a's burst (rate 5, burst 5)", 5, BUCKET)
        hint = ("one bucket per tenant, sized from the claims of each request: a new quota is "
                "not a new bucket (a tenant would get a fresh burst by asking for a new token), "
                "and a quota read once and kept is never raised.")
        _exactly(t, bucket, headers(raised), "at once, a tenant-a token with rate 5, burst 8",
                 0, hint)
        bucket.clock.advance(2.0)
        _exactly(t, bucket, headers(raised), "2 s later (10 tokens, capped at the new 8)", 8,
                 hint)


def _refills(t: Trial, make_throttle: Callable) -> None:
    lab = t.lab
    alice = as_user(lab, TENANTS[0].users[0])
    bob = as_user(lab, tenant("tenant-b").users[0])
    with t.case("the bucket refills at quota_rate on the clock it was given"):
        bucket = Bucket(t, make_throttle)
        bucket.admitted(bob, "tenant-b's burst (rate 8, burst 10)", 10)
        bucket.clock.advance(0.5)
        _exactly(t, bucket, bob, "0.5 s later (4 tokens at 8 per second)", 4, ON_THE_CLOCK)
        bucket.clock.advance(0.3125)
        _exactly(t, bucket, bob, "0.3125 s later (2.5 tokens)", 2, ON_THE_CLOCK)
    with t.case("a slow trickle of requests adds up (no rounding per request)"):
        bucket = Bucket(t, make_throttle)
        bucket.admitted(alice, "tenant-a's burst", 5)
        passed = 0
        for _ in range(256):
            bucket.clock.advance(STEP)
            passed += bucket.wait(alice, "one request every 1/64 s") == 0
        t.expect(passed in (19, 20), "about 20 admitted (5 per second for 4 s)",
                 f"{passed} admitted",
                 sent="after tenant-a's burst, one request every 1/64 s for 4 s",
                 hint="keep the tokens as a float and add the exact elapsed time: rounding "
                      "each refill down (int(...)) starves a tenant that calls often; and a "
                      "refused request takes no token.")
        fast = minted(lab.id_token(TENANTS[0].users[0]),
                      **{"custom:quota_rate": "256", "custom:quota_burst": "1"})
        if fast is not None:
            bucket = Bucket(t, make_throttle)
            sent = ("a token of tenant-a with rate 256, burst 1: one request every 1/8192 s "
                    "for 1/64 s")
            bucket.admitted(headers(fast), sent, 1)
            passed = 0
            for _ in range(128):
                bucket.clock.advance(1 / 8192)
                passed += bucket.wait(headers(fast), sent) == 0
            t.expect(passed in (3, 4), "about 4 admitted (256 per second for 1/64 s)",
                     f"{passed} admitted", sent=sent,
                     hint="add the exact elapsed time, not whole milliseconds (or any other "
                          "unit): requests closer together than the unit never refill.")
    with t.case("never more than quota_burst, however long the tenant was idle"):
        bucket = Bucket(t, make_throttle)
        bucket.admitted(alice, "tenant-a's burst", 5)
        bucket.clock.advance(3600)
        _exactly(t, bucket, alice, "an hour later", 5,
                 "cap the refill at the burst: min(burst, tokens + elapsed * rate).")


def _retry_after(t: Trial, make_throttle: Callable) -> None:
    lab = t.lab
    alice = TENANTS[0].users[0]
    cases = [("tenant-a", as_user(lab, alice), 5, 0.2)]
    for rate, burst, true_wait in (("0.5", "1", 2.0), ("0.4", "1", 2.5), ("1", "5", 1.0)):
        token = minted(lab.id_token(alice), **{"custom:quota_rate": rate,
                                               "custom:quota_burst": burst})
        if token is None:
            t.skip("Retry-After for other quotas", "the emulator's signing key is not at hand")
            break
        cases.append((f"a tenant-a token with rate {rate}, burst {burst}", headers(token),
                      int(burst), true_wait))
    with t.case("a refused request says how long to wait, and that wait is enough"):
        for who, given, burst, true_wait in cases:
            bucket = Bucket(t, make_throttle)
            bucket.admitted(given, who, burst)
            sent = f"{who}: one request more than its burst"
            wait = bucket.wait(given, sent)
            t.expect(true_wait - 1e-6 <= wait <= true_wait + 1, f"a wait of {true_wait:g} s "
                     "(or up to a second more)", f"{wait:g}", sent=sent,
                     hint="the wait is the time the bucket needs to hold one whole token: "
                          "(1 - tokens) / rate. 0 or less tells the client to hammer you; "
                          "a constant is wrong for every other quota.")
            bucket.clock.advance(wait + 1e-9)
            t.expect(bucket.wait(given, f"{who}, {wait:g} s later") == 0,
                     f"admitted {wait:g} s later, as promised", "refused again", sent=sent,
                     hint=ON_THE_CLOCK)


def _through_the_router(t: Trial, make_throttle: Callable) -> None:
    lab = t.lab
    alice, dave = as_user(lab, TENANTS[0].users[0]), as_user(lab, TENANTS[3].users[0])
    clock = SimClock()
    admit = t.call(make_throttle, clock)
    with serve(create_router(kit_route(lab, kit_table(lab, lab.settings.name("routes"))),
                             service_urls(running_deployments(lab)), admit)) as router:

        def get(given: Any) -> tuple[Reply, str | None]:
            try:
                response = requests.get(f"{router.url}/orders", headers=dict(given),
                                        timeout=t.timeout)
            except requests.Timeout:
                t.expect(False, "an answer from the router",
                         f"no answer within {t.timeout:g} s: does admit hang?")
                raise AssertionError("unreachable") from None
            reply = Reply(response)
            if reply.status == 501:
                raise NotStarted(reply.body.get("detail", ""))
            return reply, response.headers.get("Retry-After")

        with t.case("through the router: 429 with Retry-After, for the noisy tenant only"):
            statuses = [get(alice)[0].status for _ in range(5)]
            refused, retry = get(alice)
            t.expect(statuses == [200] * 5 and refused.status == 429 and retry == "1",
                     "5 x 200, then 429 with Retry-After: 1",
                     f"{statuses}, then {refused} with Retry-After {retry!r}",
                     sent="6 requests of alice through the router at one instant",
                     hint=BUCKET)
            other, _ = get(dave)
            t.expect(other.status == 200, "200 for dave (tenant-d)", str(other),
                     sent="then one request of dave", hint=PER_TENANT)
            clock.advance(1.0)
            later, _ = get(alice)
            t.expect(later.status == 200, "200 for alice a second later", str(later),
                     sent="alice again, 1 s later on the clock", hint=ON_THE_CLOCK)
