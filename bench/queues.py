"""How long lab 4's queue experiments take: the model, the blast radius runs, the live replay.

The notebook runs all three; the target is the issue's: under a minute on 2 cores in all.
"""

from __future__ import annotations

import hashlib
import random

from environment.app.queueing import experiment, live
from environment.lab import connect
from environment.settings import Settings

from .measure import Row, ms, timed


def _seed(tenant_id: str) -> int:
    return int.from_bytes(hashlib.sha256(tenant_id.encode()).digest()[:8], "big")


def _reference() -> tuple:
    return (lambda t: f"tenant-{t}", lambda t, cells: _seed(t) % cells,
            lambda t, n, k: random.Random(_seed(t)).sample(range(n), k),
            lambda queues, backlog: min(queues, key=lambda q: backlog[q]))


def run(settings: Settings, repeat: int = 3) -> list[Row]:
    lab = connect(quiet=True, settings=settings)
    functions = _reference()
    setup = experiment.Setup()
    layouts = experiment.layouts(setup, *functions)
    model = timed(lambda: experiment.compare(setup, experiment.layouts(setup, *functions)),
                  repeat)
    blast = timed(lambda: [experiment.blast(8, k, 841, *functions[2:]) for k in (1, 2, 3, 4)],
                  repeat)
    replay = timed(lambda: [live.run_layout(lab.settings, live.LiveSetup(), layout)
                            for layout in layouts[:4]], repeat)
    return [("queues: 5 strategies in the model (17,077 messages)", ms(model), "< 60 s in all"),
            ("queues: blast radius, k = 1..4 of 8, 841 tenants", ms(blast), ""),
            ("queues: 4 strategies on real SQS queues (118 messages each)", ms(replay), "")]
