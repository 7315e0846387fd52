"""Where each message goes: the strategies under comparison, built from the learner's functions.

A strategy is a ``Layout``: the queues with their consumers' capacity, and the route that picks
a queue for each message. The total consumer capacity is the same for every strategy (the
comparison is about *where* messages wait, not about buying more consumers); it is split evenly
over the layout's queues. What a learner writes is the interesting part (which queue a tenant
uses); the kit does the plumbing: names the queues, asks the learner's functions once per tenant
(not once per message), and turns the backlog into what ``pick_queue`` reads.

The learner's functions (lab 4, exercise 4.4):
  ``tenant_queue(tenant_id) -> str``                  the name of the tenant's own queue
  ``cell_of(tenant_id, cells) -> int``                the tenant's cell, 0 .. cells - 1
  ``shuffle_shard(tenant_id, n, k) -> list[int]``     the tenant's k of the n queues
  ``pick_queue(queues, backlog) -> int``              one of ``queues``, the less backlogged
"""

from __future__ import annotations

import numbers
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from .model import Route

SHARED, CELL, SHARD = "shared", "cell-{}", "shard-{}"


@dataclass(frozen=True)
class Layout:
    name: str
    route: Route
    capacity: dict[str, float]
    fair: bool = False
    note: str = field(default="", compare=False)


def _per_tenant(fn: Callable[[str], object]) -> Callable[[str], object]:
    """``fn`` asked once per tenant: a producer learns its tenant's placement once."""
    known: dict[str, object] = {}

    def placed(tenant: str) -> object:
        if tenant not in known:
            known[tenant] = fn(tenant)
        return known[tenant]

    return placed


def shared(total: float) -> Layout:
    """One queue for every tenant: the simplest layout, and the noisy neighbour's dream."""
    return Layout("shared queue", lambda tenant, backlog: SHARED, {SHARED: total})


def fair(total: float) -> Layout:
    """One standard SQS queue with MessageGroupId = tenant, delivered fairly (see ``model``)."""
    return Layout("SQS fair queue", lambda tenant, backlog: SHARED, {SHARED: total}, fair=True,
                  note="modelled: the emulator accepts MessageGroupId but does not reorder")


def per_tenant(tenant_queue: Callable[[str], str], tenants: Sequence[str], total: float
               ) -> Layout:
    """A queue per tenant, each with an equal share of the consumers."""
    name_of = _per_tenant(tenant_queue)
    names = [name_of(tenant) for tenant in tenants]
    queues = {name: total / len(tenants) for name in names if isinstance(name, str)}
    return Layout("queue per tenant", lambda tenant, backlog: name_of(tenant), queues)


def cells(cell_of: Callable[[str, int], int], count: int, total: float) -> Layout:
    """``count`` cells, each a queue shared by the tenants the learner's ``cell_of`` puts there."""
    cell = _per_tenant(lambda tenant: cell_of(tenant, count))

    def route(tenant: str, backlog: Mapping[str, int]) -> object:
        number = cell(tenant)
        return CELL.format(number) if _is_int(number) else number

    return Layout(f"{count} cells", route, {CELL.format(i): total / count for i in range(count)})


def shuffle(shuffle_shard: Callable[[str, int, int], Sequence[int]],
            pick_queue: Callable[[list[int], list[int]], int], n: int, k: int, total: float
            ) -> Layout:
    """Each tenant on k of n queues; each message to the less backlogged of its tenant's k."""
    shard = _per_tenant(lambda tenant: _listed(shuffle_shard(tenant, n, k)))
    names = [SHARD.format(i) for i in range(n)]

    def route(tenant: str, backlog: Mapping[str, int]) -> object:
        chosen = pick_queue(list(shard(tenant)), [backlog[name] for name in names])  # copies
        return SHARD.format(chosen) if _is_int(chosen) else chosen

    return Layout(f"shuffle shards ({k} of {n})", route, dict.fromkeys(names, total / n))


def _listed(value: object) -> list:
    """A shard as a list, once: a generator would be used up by the first message."""
    return list(value) if isinstance(value, Iterable) and not isinstance(value, str) else []


def _is_int(value: object) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)
