"""The experiments lab 4 shows: strategies side by side, and shuffle sharding's blast radius.

``compare``: the lab's four tenants, one of them flooding for 20 of 60 simulated seconds at
more than the consumers can take, the three others steady. Every strategy gets the same load
and the same total consumer capacity; what differs is where messages wait.

``blast``: many quiet tenants placed on shuffle shards and one noisy tenant that floods its k
queues for the whole run. A quiet tenant whose k queues are all the noisy one's has nowhere to
go: its messages wait behind the flood. The share of such tenants is what the analytic blast
radius predicts.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from . import strategies
from .load import Flood, noisy_load
from .measure import Summary, percentile, summarise
from .model import simulate
from .strategies import Layout


@dataclass(frozen=True)
class Setup:
    """The headline experiment's knobs (rates in messages per second, times in seconds)."""

    tenants: tuple[str, ...] = ("tenant-a", "tenant-b", "tenant-c", "tenant-d")
    noisy: str = "tenant-d"
    quiet_rate: float = 20.0
    flood_rate: float = 600.0
    flood_start: float = 10.0
    flood_end: float = 30.0
    duration: float = 60.0
    capacity: float = 400.0  # every strategy's consumers together
    cells: int = 2
    n: int = 8
    k: int = 2
    seed: int = 4

    @property
    def quiet(self) -> list[str]:
        return [tenant for tenant in self.tenants if tenant != self.noisy]

    def load(self):
        flood = Flood(self.noisy, self.flood_rate, self.flood_start, self.flood_end)
        return noisy_load(self.tenants, self.quiet_rate, flood, self.duration, self.seed)


def layouts(setup: Setup, tenant_queue: Callable, cell_of: Callable, shuffle_shard: Callable,
            pick_queue: Callable) -> list[Layout]:
    """The five strategies, built from the learner's functions, on the setup's capacity."""
    total = setup.capacity
    return [strategies.shared(total),
            strategies.per_tenant(tenant_queue, setup.tenants, total),
            strategies.cells(cell_of, setup.cells, total),
            strategies.shuffle(shuffle_shard, pick_queue, setup.n, setup.k, total),
            strategies.fair(total)]


def compare(setup: Setup, layouts: Sequence[Layout]) -> list[Summary]:
    """Each layout under the same seeded load: the quiet tenants' p50 and p99 delays."""
    load = setup.load()
    return [summarise(layout.name, simulate(load, layout.route, layout.capacity, layout.fair),
                      setup.quiet) for layout in layouts]


@dataclass(frozen=True)
class Blast:
    n: int
    k: int
    quiet: int  # quiet tenants that sent at least one message
    hurt: tuple[str, ...]  # quiet tenants whose median delay passed the threshold
    cornered: tuple[str, ...]  # quiet tenants whose k queues are all the noisy tenant's
    lost: int

    @property
    def measured(self) -> float:
        return len(self.hurt) / self.quiet


def random_shards(seed: int) -> Callable[[str, int, int], list[int]]:
    """Shards drawn uniformly at random (seeded), the assumption behind the analytic formula."""
    def shard(tenant: str, n: int, k: int) -> list[int]:
        return random.Random(f"{seed}/{tenant}").sample(range(n), k)
    return shard


def less_backlogged(queues: list[int], backlog: list[int]) -> int:
    return min(queues, key=lambda q: (backlog[q], q))


def blast(n: int, k: int, tenants: int, shuffle_shard: Callable | None = None,
          pick_queue: Callable = less_backlogged, seed: int = 7, per_queue: float = 50.0,
          duration: float = 30.0, hurt_after: float = 1.0) -> Blast:
    """One noisy tenant flooding its k queues at twice their capacity, ``tenants - 1`` quiet.

    The quiet tenants together use 60% of the other queues' capacity, so a quiet tenant with one
    queue outside the noisy tenant's shard is fine; one whose median delay passes
    ``hurt_after`` seconds counts as hurt.
    """
    shard_of = shuffle_shard or random_shards(seed)
    names = [f"tenant-{i:04d}" for i in range(tenants)]
    noisy, quiet = names[0], names[1:]
    quiet_rate = 0.6 * (n - k) * per_queue / len(quiet)
    flood = Flood(noisy, 2 * k * per_queue - quiet_rate, 0.0, duration)
    load = noisy_load(names, quiet_rate, flood, duration, seed)
    layout = strategies.shuffle(shard_of, pick_queue, n, k, n * per_queue)
    run = simulate(load, layout.route, layout.capacity)
    delays: dict[str, list[float]] = {}
    for served in run.served:
        delays.setdefault(served.message.tenant, []).append(served.delay)
    senders = [t for t in quiet if t in delays]  # a tenant that sent nothing felt nothing
    hurt = tuple(t for t in senders if percentile(delays[t], 50) > hurt_after)
    own = set(shard_of(noisy, n, k))
    cornered = tuple(t for t in senders if set(shard_of(t, n, k)) <= own)
    return Blast(n, k, len(senders), hurt, cornered, len(run.lost))
