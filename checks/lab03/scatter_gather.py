"""Check 3.5: scatter-gather with a correlation id, a return address and a deadline.

The learner's aggregator asks every supplier of a ``Market`` (real SQS queues, a simulated
clock, seeded supplier latencies) and gathers quotes until its deadline. The market itself
records what each supplier received (so the check sees the correlation id and return address
the requests carried) and every reply it put on the reply queue, with its simulated time, so
the check knows exactly which quotes arrived in time. Scenarios add what a real reply queue
holds: replies of another request, of an earlier request, a duplicate, malformed ones, and a
burst that one receive cannot hold. Results are compared as multisets. Time is the market's
own record (the furthest it was moved), not the clock's attribute, which code could set back.
What no check can rule out: code that behaves only when it recognises the check (a queue's
name, the call stack); that cheats the learner, not the check.
"""

from __future__ import annotations

import json
import uuid
from collections import Counter
from collections.abc import Callable
from typing import Any

from environment.account.infrastructure import SUPPLIERS
from environment.app.suppliers import Market, Sent

from ..framework import Trial, exercise, short
from ..fresh_state import twins
from ..scratch_queues import fresh_queue
from ..wall_sleep import wall_sleeps

Quote = tuple[str, int]
EXTRA = "eagle"  # a fifth supplier, in one scene only

ASK = ("send one request to each supplier's queue, with two message attributes: CorrelationId "
       "(a new id for this request) and ReplyTo (the reply queue's URL, market.reply_queue: "
       "this exercise's return address, the queue the check watches; a queue of your own per "
       "request is another design).")
IN_TIME = ("sleep on market.clock until the deadline (never past it), and after every sleep "
           "read the reply queue until it is empty; keep the quotes whose CorrelationId is "
           "this request's.")
DEADLINE = ("compute the deadline once (clock.now() + deadline_s) and never sleep past it: "
            "sleep min(poll interval, deadline - now), then read the queue one last time.")


def _latencies(table: dict[str, list[float]]) -> Callable[[Any, str], float]:
    """Scripted latencies: each supplier's next request takes the next value of its list."""
    queues = {name: list(values) for name, values in table.items()}
    return lambda _rng, supplier: queues[supplier].pop(0)


class Scene:
    """One market of fresh queues, and how a gather went on it."""

    def __init__(self, t: Trial, gather_quotes: Callable, suppliers: dict[str, str], seed: int,
                 latency: Callable[[Any, str], float] | None = None) -> None:
        lab = t.lab
        self.t, self.gather_quotes = t, gather_quotes
        self.market = Market(lab.client("sqs"), suppliers,
                             fresh_queue(lab, "check-quote-replies"), seed=seed, latency=latency)
        self.start = self.deadline = self.returned = 0.0
        self.got: Counter[Quote] = Counter()
        self.wall_slept: list[float] = []  # time.sleep calls: the wall clock, never needed

    @property
    def correlation_id(self) -> str | None:
        """The correlation id of the latest request the suppliers received."""
        return self.market.requests[-1].correlation_id if self.market.requests else None

    def gather(self, item: str, deadline_s: float) -> Counter[Quote]:
        self.start = self.market.clock.time
        self.deadline = self.start + deadline_s
        with wall_sleeps([self.gather_quotes]) as slept:
            result = self.t.call(self.gather_quotes, item, self.market, deadline_s,
                                 hint="a reply queue holds anything: bodies that are not JSON, "
                                      "replies without a price or a correlation id. Skip what "
                                      "you cannot read; never let one bad message end the "
                                      "gather.")
        self.wall_slept += slept
        self.got = quotes_of(self.t, result)
        # The market's record of time, not the clock's attribute (which code could set back).
        self.returned = max(self.market.clock.time, self.market.reached)
        if self.returned < self.deadline:  # what fell due by the deadline is sent, asked or not
            self.market.clock.sleep(self.deadline - self.returned)
        return self.got

    def expected(self) -> Counter[Quote]:
        return Counter((s.supplier, s.price_cents or 0)
                       for s in self.market.quotes_for(self.start, self.deadline))

    def asked(self, since: float) -> None:
        """Every supplier got exactly one request since ``since``, with both attributes."""
        requests = [r for r in self.market.requests if r.at >= since]
        per_supplier = Counter(r.supplier for r in requests)
        sent = f"item, market (reply queue {self.market.reply_queue.rsplit('/', 1)[-1]}), deadline"
        self.t.expect(per_supplier == Counter(self.market.suppliers),
                      f"one request on each supplier's queue ({', '.join(self.market.suppliers)})",
                      f"requests received: {dict(per_supplier) or 'none'}", hint=ASK, sent=sent,
                      code_hint="for url in market.supplier_queues.values(): "
                                "market.sqs.send_message(QueueUrl=url, MessageBody=..., "
                                "MessageAttributes={...})")
        reply_queue = self.market.reply_queue
        for request in requests:
            addressed = request.reply_to in (reply_queue, reply_queue.rsplit("/", 1)[-1])
            self.t.expect(bool(request.correlation_id) and addressed,
                          f"CorrelationId and ReplyTo={reply_queue.rsplit('/', 1)[-1]} on every "
                          "request",
                          f"{request.supplier} got CorrelationId={request.correlation_id!r}, "
                          f"ReplyTo={request.reply_to!r}", hint=ASK, sent=sent,
                          code_hint="MessageAttributes={'CorrelationId': {'DataType': 'String', "
                                    "'StringValue': correlation_id}, 'ReplyTo': {'DataType': "
                                    "'String', 'StringValue': market.reply_queue}}")

    def kept_deadline(self) -> None:
        self.t.expect(not self.wall_slept, "waiting on market.clock only",
                      f"time.sleep was called {len(self.wall_slept)} times "
                      f"({sum(self.wall_slept):g} s of the wall clock)",
                      hint="the suppliers answer while market.clock sleeps; time.sleep only "
                           "makes the notebook slower (and a real deadline later).",
                      code_hint="market.clock.sleep(min(0.25, deadline - market.clock.now()))")
        now = self.returned
        self.t.expect(now <= self.deadline + 1e-9,
                      f"back by the deadline, t = {self.deadline:.2f} s",
                      f"it returned at t = {now:.2f} s, after replies that came too late: "
                      f"{timeline(self.market.sent, self.deadline, self.deadline, now)}",
                      hint=DEADLINE)

    def same_quotes(self, want: Counter[Quote], hint: str = IN_TIME) -> None:
        self.t.expect(self.got == want, f"the quotes that arrived in time: {sorted(want)}",
                      f"{sorted(self.got.elements())} ({difference(want, self.got)}); "
                      f"replies on the queue: "
                      f"{timeline(self.market.sent, self.start, self.deadline, self.deadline)}",
                      hint=hint)


def quotes_of(t: Trial, result: Any) -> Counter[Quote]:
    """The multiset of (supplier, price) of a returned list of quotes, or a teaching report."""
    shape = "a list of quotes: dicts like {'supplier': 'ace', 'price_cents': 1234}"
    if not isinstance(result, list | tuple):
        t.expect(False, shape, short(result),
                 hint="return the quotes themselves (a list), not the messages that held them.")
    found: Counter[Quote] = Counter()
    for quote in result:
        ok = (isinstance(quote, dict) and isinstance(quote.get("supplier"), str)
              and isinstance(quote.get("price_cents"), int)
              and not isinstance(quote.get("price_cents"), bool))
        t.expect(ok, shape, f"a list holding {short(quote, 100)}",
                 hint="each quote is the reply's JSON body, parsed; a reply whose body is not a "
                      "quote (no price, a price that is not a whole number) is not a quote.")
        found[(quote["supplier"], quote["price_cents"])] += 1
    return found


def difference(want: Counter[Quote], got: Counter[Quote]) -> str:
    missing, extra = want - got, got - want
    parts = []
    if missing:
        parts.append(f"missing {sorted(missing.elements())}")
    duplicated = [q for q in extra if q in want]
    foreign = [q for q in extra.elements() if q not in want]
    if duplicated:
        parts.append(f"duplicated {sorted(duplicated)}")
    if foreign:
        parts.append(f"not this request's or too late {sorted(foreign)}")
    return "; ".join(parts) or "the same"


def timeline(sent: list[Sent], since: float, deadline: float, until: float) -> str:
    rows = [f"{s.at:.2f}s {s.supplier} {s.price_cents} ({s.kind}"
            f"{', late' if s.at > deadline else ''})" for s in sent if since <= s.at <= until]
    return "; ".join(rows[:8]) + (" ..." if len(rows) > 8 else "") if rows else "none"


def another_request(market: Market, at: float, supplier: str, price: int) -> None:
    market.quote(at, supplier, f"another-request-{uuid.UUID(int=int(at * 1000))}", price,
                 kind="another request")


def resend_latest_quote(market: Market, at: float, markup: int = 0) -> None:
    """The latest quote again; with a markup, a second answer of that supplier (first wins)."""
    latest = next(s for s in reversed(market.sent) if s.kind == "quote")
    market.quote(at, latest.supplier, latest.correlation_id, (latest.price_cents or 0) + markup,
                 kind="duplicate" if not markup else "second answer", asked_at=None)


def malformed(market: Market, at: float, body: str, with_id: bool = True) -> None:
    cid = market.requests[-1].correlation_id if with_id and market.requests else None
    market.send_reply(at, "?", cid, body, kind="malformed")


@exercise(
    "3.5", "scatter-gather: quotes by a deadline", ("gather_quotes",),
    hint="scatter: one request per supplier, carrying a new CorrelationId and your ReplyTo "
         "queue. Gather: until the deadline on market.clock, read the reply queue and keep the "
         "first well-formed quote of each supplier whose CorrelationId is this request's.",
    code_hint="deadline = market.clock.now() + deadline_s; loop: drain the reply queue "
              "(receive_message with MessageAttributeNames=['All'] until it returns nothing), "
              "then break if market.clock.now() >= deadline, else market.clock.sleep(min(0.25, "
              "deadline - market.clock.now()))",
)
def check_scatter_gather(gather_quotes, t: Trial) -> None:
    # Fresh supplier queues once: suppliers delete what they pick up, so each scene's market
    # starts from empty request queues; the reply queue is fresh for every scene.
    suppliers = {s: fresh_queue(t.lab, f"check-quotes-{s}") for s in SUPPLIERS}
    seeded = Scene(t, gather_quotes, suppliers, seed=11)
    with t.case("every supplier is asked, with a CorrelationId and a ReplyTo, and a list of "
                "quotes comes back"):
        seeded.gather("brake pads", 2.3)
        seeded.asked(since=0.0)
        t.expect(not seeded.market.dropped, "every request answerable",
                 "; ".join(seeded.market.dropped), hint=ASK)
    with t.case("the deadline is kept (2.3 s; some suppliers answer later)"):
        seeded.kept_deadline()
    with t.case("the quotes that arrived by the deadline, and only those"):
        seeded.same_quotes(seeded.expected())

    _hostile_replies(t, gather_quotes, suppliers)
    _burst(t, gather_quotes, suppliers)
    _an_earlier_request(t, gather_quotes, suppliers)
    _one_more_supplier(t, gather_quotes, suppliers, seeded.correlation_id)


def _hostile_replies(t: Trial, gather_quotes: Callable, suppliers: dict[str, str]) -> None:
    fixed = {"ace": [0.5], "bolt": [1.1], "crank": [1.7], "dyno": [3.2]}
    scene = Scene(t, gather_quotes, suppliers, seed=12, latency=_latencies(fixed))
    market = scene.market
    market.at(0.35, lambda m, at: another_request(m, at, "ace", 1))
    market.at(0.8, lambda m, at: malformed(m, at, "quote: 12 dollars"))
    market.at(0.9, lambda m, at: malformed(m, at, json.dumps({"supplier": "bolt"})))
    market.at(1.0, lambda m, at: malformed(m, at, json.dumps({"supplier": "crank",
                                                              "price_cents": "cheap"})))
    market.at(1.05, lambda m, at: malformed(m, at, json.dumps(["ace", 700])))
    market.at(1.15, resend_latest_quote)
    market.at(1.3, lambda m, at: m.quote(at, "dyno", None, 2, kind="no correlation id"))
    market.at(1.4, lambda m, at: resend_latest_quote(m, at, markup=55))
    # Prices of the wrong type, before the suppliers' own quotes: int() would make them quotes.
    for n, (supplier, price) in enumerate(MISTYPED):
        market.at(0.3 + n / 100, lambda m, at, s=supplier, p=price: malformed(
            m, at, json.dumps({"supplier": s, "price_cents": p})))
    with t.case("malformed replies (not JSON, no price, a list, a price that is a string, a "
                "float or a bool) are skipped"):
        scene.gather("chain", 4.95)
        coerced = [q for q in scene.got if q in COERCED]
        t.expect(not coerced, "no quote from a reply whose price is not an int",
                 f"{coerced} among {sorted(scene.got)}",
                 hint="a price is a JSON integer: type(price) is int. int('999'), int(12.5) "
                      "and int(True) turn garbage into a quote.")
    with t.case("replies that are not this request's (another id, no id) are not mixed in"):
        strays = [q for q in scene.got if q in {("ace", 1), ("dyno", 2)}]
        t.expect(not strays, "no quote of another request", f"{strays} among {sorted(scene.got)}",
                 hint="a reply queue is shared by every request you make (and by strays): a "
                      "reply counts only if its CorrelationId attribute is this request's id.",
                 code_hint="attributes = message.get('MessageAttributes', {}); keep it only if "
                           "attributes.get('CorrelationId', {}).get('StringValue') == "
                           "correlation_id")
    with t.case("a duplicate reply is counted once"):
        scene.same_quotes(scene.expected(),
                          hint="queues deliver at least once, and suppliers resend (sometimes "
                               "with another price): keep one quote per supplier, the first, "
                               "not one per message and not the last.")


MISTYPED = (("ace", "999"), ("bolt", 12.5), ("crank", True))
COERCED = {("ace", 999), ("bolt", 12), ("crank", 1)}


BURST = 26  # strays: with the suppliers' quotes, more than three receives of 10 hold


def _burst(t: Trial, gather_quotes: Callable, suppliers: dict[str, str]) -> None:
    deadline = 1.9
    fixed = {s: [deadline - 0.05] for s in SUPPLIERS}
    scene = Scene(t, gather_quotes, suppliers, seed=13, latency=_latencies(fixed))
    for n in range(BURST):
        scene.market.at(deadline - 0.08, lambda m, at, n=n: another_request(m, at, "bolt", 3 + n))
    with t.case(f"a burst of {BURST + len(SUPPLIERS)} replies just before the deadline (more "
                "than a few receives hold)"):
        scene.gather("saddle", deadline)
        scene.same_quotes(scene.expected(),
                          hint="one receive_message returns at most 10 messages (1 unless you "
                               "ask for more): read the queue until it comes back empty, and do "
                               "it once more when the deadline is reached.")


def _an_earlier_request(t: Trial, gather_quotes: Callable, suppliers: dict[str, str]) -> None:
    fixed = {"ace": [0.4, 0.3], "bolt": [1.6, 2.0], "crank": [2.2, 2.0], "dyno": [0.8, 0.5]}
    scene = Scene(t, gather_quotes, suppliers, seed=14, latency=_latencies(fixed))
    with t.case("late replies of an earlier request are not mixed into the next one"):
        scene.gather("pedals", 1.0)
        first = scene.market.requests[-1].correlation_id
        second_start = scene.market.clock.time
        scene.gather("pedals", 1.4)
        scene.asked(since=second_start)
        again = scene.market.requests[-1].correlation_id
        t.expect(again != first, "a new CorrelationId for every request",
                 f"both requests carried {again!r}",
                 hint="a correlation id names one request: reuse it and the late replies of "
                      "the previous request look like answers to this one.",
                 code_hint="correlation_id = str(uuid.uuid4()) inside the function")
        scene.same_quotes(scene.expected())


def _one_more_supplier(t: Trial, gather_quotes: Callable, suppliers: dict[str, str],
                       first_id: str | None) -> None:
    """Five suppliers (no count is fixed), a resend early on, the last quote just in time."""
    deadline = 1.5
    five = {**suppliers, EXTRA: fresh_queue(t.lab, f"check-quotes-{EXTRA}")}
    fixed = {"ace": [0.3], "bolt": [0.4], "crank": [0.5], "dyno": [0.6],
             EXTRA: [deadline - 0.01]}
    scene = Scene(t, gather_quotes, five, seed=15, latency=_latencies(fixed))
    scene.market.at(0.45, resend_latest_quote)
    with t.case(f"{len(five)} suppliers, one answering 10 ms before the deadline: every quote "
                "that came in time"):
        scene.gather("brake pads", deadline)
        scene.asked(since=0.0)
        scene.same_quotes(scene.expected(),
                          hint="return early only when every supplier you asked "
                               "(len(market.supplier_queues), not a number you know) has "
                               "answered, counting suppliers, not messages; otherwise wait to "
                               "the deadline itself, never a margin before it.")
    with t.case("the same item asked again from the start: a new CorrelationId"):
        t.expect(scene.correlation_id != first_id, "a correlation id that is new each time",
                 f"both requests for 'brake pads' at t = 0.00 s carried {first_id!r}",
                 hint="an id made from the item and the time repeats when both repeat (and a "
                      "counter restarts with the process): use uuid.uuid4().",
                 code_hint="correlation_id = str(uuid.uuid4())")
        made = []
        for twin in twins(gather_quotes) or ():  # the same state twice: a counter repeats
            again = Scene(t, twin, suppliers, seed=16)
            again.gather("brake pads", 0.5)
            made.append(again.correlation_id)
        t.expect(len(made) < 2 or made[0] != made[1], "a correlation id drawn, not made",
                 f"started twice from the same state, gather_quotes sent {made[0]!r} both "
                 "times" if made else "", code_hint="correlation_id = str(uuid.uuid4())",
                 hint="a counter (or a seeded generator) starts again with every process: two "
                      "aggregators, or one restarted, reuse ids, and each takes the other's "
                      "replies. Draw the id: uuid.uuid4().")
