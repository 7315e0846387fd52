"""Outside services the sample application depends on (lab 6): a flaky partner payment API.

The partner is real HTTP on loopback, but its faults (failures, latency, timeouts, outage
windows) come from a seeded scenario and happen on a simulated clock the caller controls:
a 30-second hang costs 30 simulated seconds and no real ones. It records every charge it
accepted, so a check can count double charges where the partner sees them.
"""

from .api import PartnerAPI, start_partner
from .client import PartnerClient, PartnerError, PartnerTimeout, WorkerKilled
from .clock import SimulatedClock
from .scenario import Scenario
from .worker import PaymentFailed, Worker

__all__ = ["PartnerAPI", "PartnerClient", "PartnerError", "PartnerTimeout", "PaymentFailed",
           "Scenario", "SimulatedClock", "Worker", "WorkerKilled", "start_partner"]
