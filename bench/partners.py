"""Lab 6: how fast the partner payment API answers over loopback, and what the drill costs.

The drill runs the solution's worker and redrive through 20 orders with 30% failures, slow
calls, a 105-second outage and a killed worker: simulated minutes, real milliseconds.
"""

from __future__ import annotations

from checks.lab06.common import plain_table, rig
from checks.notebook_code import namespace, solution_path
from checks.scratch import raw_items
from environment.app.partners import Scenario, SimulatedClock, start_partner
from environment.app.partners.drill import DRILL, drill_orders, run_drill
from environment.lab import connect
from environment.settings import Settings

from .measure import Row, ms, timed


def run(settings: Settings, repeat: int = 5) -> list[Row]:
    rows: list[Row] = []
    with start_partner(Scenario(), SimulatedClock()) as partner:
        client = partner.client()
        charges = timed(lambda: client.charge("tenant-a", "o-1", 10.0, idempotency_key="k"),
                        200)
        rows.append(("partner API: one charge over loopback (200 calls)", ms(charges), ""))
    lab = connect(quiet=True, settings=settings)
    solution = namespace(solution_path(6))
    simulated: list[float] = []

    def drill() -> None:
        table = plain_table(lab, "bench-payments")  # empty for every run, as in check 6.3
        with rig(lab, DRILL, table) as r:
            seen = r.deliveries()  # what the killed worker held comes back, as in check 6.3
            with seen.watching(r.worker_client):
                report = run_drill(r.worker(), r.partner, r.queues.sqs, (r.queues.url,
                                   r.queues.dlq_url), lambda: raw_items(lab, table.name),
                                   solution["process_batch"], solution["redrive"],
                                   drill_orders(), after_kill=seen.release)
            if report.lost or report.twice:
                raise RuntimeError(f"the drill failed on the solution: {report.summary()}")
            simulated.append(r.clock.now())

    samples = timed(drill, repeat)
    rows.append((f"lab 6 drill: 20 orders, {simulated[-1]:.0f} simulated s ({repeat} runs)",
                 ms(samples), "under 2 s"))
    return rows
