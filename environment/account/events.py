"""The account's EventBridge buses and rules (``infrastructure.EVENT_ROUTES``).

Each route is a custom bus, a rule on it that matches one ``source`` and ``detail-type``, and
the rule's target, an SQS queue (declared in ``QUEUES``, with its dead-letter queue). A
producer only knows the bus; who consumes its events is the rule's business, which is what
lets lab 3 add a consumer without touching the order service.
"""

from __future__ import annotations

import json

from ..settings import Settings
from . import infrastructure as infra
from .queues import queue_arn

SERVICE = "events"


def bus_name(settings: Settings, short_name: str) -> str:
    return settings.name(short_name)


def _buses(settings: Settings) -> list[str]:
    events = settings.client(SERVICE)
    found: list[str] = []
    request: dict = {"NamePrefix": settings.prefix}
    while True:
        page = events.list_event_buses(**request)
        found += [bus["Name"] for bus in page.get("EventBuses", [])]
        if not page.get("NextToken"):
            return found
        request["NextToken"] = page["NextToken"]


def ensure(settings: Settings) -> None:
    events = settings.client(SERVICE)
    existing = set(_buses(settings))
    for route in infra.EVENT_ROUTES:
        bus = settings.name(route.bus)
        if bus not in existing:
            events.create_event_bus(Name=bus)
            existing.add(bus)
        rule = settings.name(route.rule)
        pattern = {"source": [route.source], "detail-type": [route.detail_type]}
        events.put_rule(Name=rule, EventBusName=bus, EventPattern=json.dumps(pattern),
                        State="ENABLED", Description=f"{route.detail_type} to {route.queue}")
        events.put_targets(Rule=rule, EventBusName=bus, Targets=[
            {"Id": route.queue, "Arn": queue_arn(settings, route.queue)}])


def teardown(settings: Settings) -> list[str]:
    """Delete every prefixed bus, after its rules' targets and rules, as EventBridge requires."""
    events = settings.client(SERVICE)
    doomed = [bus for bus in _buses(settings) if bus.startswith(settings.prefix)]
    for bus in doomed:
        for rule in events.list_rules(EventBusName=bus).get("Rules", []):
            targets = events.list_targets_by_rule(Rule=rule["Name"], EventBusName=bus)["Targets"]
            if targets:
                events.remove_targets(Rule=rule["Name"], EventBusName=bus,
                                      Ids=[target["Id"] for target in targets])
            events.delete_rule(Name=rule["Name"], EventBusName=bus)
        events.delete_event_bus(Name=bus)
    return [f"event bus {bus}" for bus in doomed]
