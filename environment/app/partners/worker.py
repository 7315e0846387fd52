"""What a payment worker is handed: its queues, its table, the partner, a clock and a seed.

Everything time- or chance-dependent comes in here, so a check (or a notebook) runs the same
worker against a scenario it chose and gets the same timeline every time.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

from .client import PartnerClient
from .clock import SimulatedClock


class PaymentFailed(Exception):
    """A payment that will not go through now; ``reason`` says why (for the dead letter)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass
class Worker:
    queue: Any  # boto3 sqs.Queue: payment requests
    dead_letters: Any  # boto3 sqs.Queue: what failed, with its reason
    table: Any  # boto3 dynamodb.Table: idempotency and status records
    partner: PartnerClient
    clock: SimulatedClock
    rng: random.Random = field(default_factory=lambda: random.Random(6))
