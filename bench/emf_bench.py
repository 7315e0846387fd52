"""The EMF agent's throughput, Logs Insights latency, and the environment's memory under load.

Four senders write EMF events over TCP at once (three dimensions, two dimension sets, two
metrics each, as lab 5's services emit them); the time runs from the first byte to the agent's
``settle`` (everything stored in CloudWatch Logs and published to CloudWatch). Then a per-tenant
Logs Insights query over those events, and the emulator's RSS with every lab's resources and
this load in it (the issue's target: under 250 MB).
"""

from __future__ import annotations

import json
import socket
import threading
import time

import psutil

from environment import emulator
from environment.emulator.emf.status import agent_status
from environment.settings import Settings

from .measure import Row, ms, timed

GROUP = "bench-emf"
SENDERS = 4


def events(sender: int, count: int) -> bytes:
    now = int(time.time() * 1000)
    lines = []
    for i in range(count):
        tenant = f"tenant-{(sender * count + i) % 10}"
        lines.append(json.dumps({
            "_aws": {"Timestamp": now, "LogGroupName": GROUP, "CloudWatchMetrics": [{
                "Namespace": "BenchEmf",
                "Dimensions": [["ServiceName", "Tenant", "Tier"], ["Tenant"]],
                "Metrics": [{"Name": "OrderCreated", "Unit": "Count"},
                            {"Name": "InvoiceTotalPrice", "Unit": "None"}]}]},
            "ServiceName": "orders", "Tenant": tenant, "Tier": "basic", "OrderCreated": 1,
            "InvoiceTotalPrice": 10 + i % 7, "tenant_id": tenant,
            "level": "ERROR" if i % 20 == 0 else "INFO"}))
    return ("\n".join(lines) + "\n").encode()


def run(settings: Settings, total: int = 8000) -> list[Row]:
    pid = emulator.ensure_running(settings)
    before = agent_status(settings)
    each = total // SENDERS
    payloads = [events(n, each) for n in range(SENDERS)]

    def send(payload: bytes) -> None:
        with socket.create_connection(("127.0.0.1", settings.emf_port)) as sock:
            sock.sendall(payload)

    started = time.perf_counter()
    threads = [threading.Thread(target=send, args=(p,)) for p in payloads]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    after = agent_status(settings)
    elapsed = time.perf_counter() - started
    stored = after["stored"] - before["stored"]
    if stored != each * SENDERS:
        raise RuntimeError(f"the agent stored {stored} of {each * SENDERS} events: {after}")
    logs = settings.client("logs")
    window = {"startTime": int(time.time()) - 3600, "endTime": int(time.time()) + 3600}

    def insights() -> None:
        query_id = logs.start_query(logGroupName=GROUP, queryString=(
            'filter level = "ERROR" | stats count(*), sum(InvoiceTotalPrice) by tenant_id'),
            **window)["queryId"]
        logs.get_query_results(queryId=query_id)

    samples = timed(insights, 5)
    rss = psutil.Process(pid).memory_info().rss
    return [
        (f"EMF agent: {stored} events from {SENDERS} TCP senders, stored and published",
         f"{stored / elapsed:,.0f} events/s", ""),
        (f"Logs Insights stats by tenant over {stored} events (5 runs)", ms(samples), ""),
        ("emulator RSS: provisioned account, what the checks left, the EMF load",
         f"{rss / 2**20:.0f} MiB", "under 250 MB"),
    ]
